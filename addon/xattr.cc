// Extended attributes by path. `follow` false selects the l* variants, which
// act on a symlink itself instead of its target.
#include <sys/xattr.h>

#include "args.h"
#include "register.h"

namespace passfs {

namespace {

// A zero-length slice asks the kernel for the size the value would need.
void* sizeProbe(const Slice& buf) { return buf.len == 0 ? nullptr : buf.data; }

Napi::Value getxattrFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb, nb;
  const char* path = a.name(0, pb);
  const char* name = a.name(1, nb);
  Slice buf = a.slice(2);
  bool follow = a.flag(5);
  if (!a.ok()) return a.failure();
  void* value = sizeProbe(buf);
  return sysResult(a.env(), follow ? getxattr(path, name, value, buf.len)
                                   : lgetxattr(path, name, value, buf.len));
}

Napi::Value setxattrFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb, nb;
  const char* path = a.name(0, pb);
  const char* name = a.name(1, nb);
  Slice buf = a.slice(2);
  int flags = a.i32(5);
  bool follow = a.flag(6);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), follow ? setxattr(path, name, buf.data, buf.len, flags)
                                   : lsetxattr(path, name, buf.data, buf.len, flags));
}

Napi::Value listxattrFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb;
  const char* path = a.name(0, pb);
  Slice buf = a.slice(1);
  bool follow = a.flag(4);
  if (!a.ok()) return a.failure();
  char* list = static_cast<char*>(sizeProbe(buf));
  return sysResult(a.env(), follow ? listxattr(path, list, buf.len)
                                   : llistxattr(path, list, buf.len));
}

Napi::Value removexattrFs(const Napi::CallbackInfo& info) {
  Args a(info);
  PathBuf pb, nb;
  const char* path = a.name(0, pb);
  const char* name = a.name(1, nb);
  bool follow = a.flag(2);
  if (!a.ok()) return a.failure();
  return sysResult(a.env(), follow ? removexattr(path, name) : lremovexattr(path, name));
}

}  // namespace

void registerXattr(Napi::Env env, Napi::Object exports) {
  exportFunction<getxattrFs>(env, exports, "getxattr");
  exportFunction<setxattrFs>(env, exports, "setxattr");
  exportFunction<listxattrFs>(env, exports, "listxattr");
  exportFunction<removexattrFs>(env, exports, "removexattr");
}

}  // namespace passfs
