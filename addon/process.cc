// Process-wide knobs and small helpers.
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <vector>

#include "args.h"
#include "register.h"

namespace passfs {

namespace {

// Only ever raises: a caller asking for less than the current soft limit
// keeps what it has. As root (CAP_SYS_RESOURCE) the hard limit is raised
// too, up to the kernel's fs.nr_open; without the privilege, to the hard
// limit only.
Napi::Value raiseNofile(const Napi::CallbackInfo& info) {
  Args a(info);
  uint64_t wanted = a.u64(0);
  if (!a.ok()) return a.failure();
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) < 0) return sysResult(a.env(), -1);
  uint64_t ceiling = lim.rlim_max;
  if (FILE* f = fopen("/proc/sys/fs/nr_open", "re")) {
    unsigned long long n = 0;
    if (fscanf(f, "%llu", &n) == 1 && n > ceiling) ceiling = n;
    fclose(f);
  }
  rlim_t target = wanted < ceiling ? wanted : ceiling;
  if (target > lim.rlim_cur) {
    rlimit want{target, target > lim.rlim_max ? target : lim.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
      // Not privileged: the soft limit up to the hard one.
      want = {lim.rlim_max, lim.rlim_max};
      if (lim.rlim_max > lim.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) < 0) return sysResult(a.env(), -1);
    }
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0) return sysResult(a.env(), -1);
  }
  return Napi::Number::New(a.env(), static_cast<double>(lim.rlim_cur));
}

Napi::Value umaskFn(const Napi::CallbackInfo& info) {
  Args a(info);
  mode_t mask = a.u32(0);
  if (!a.ok()) return a.failure();
  return Napi::Number::New(a.env(), umask(mask));
}

// threadCreds(uid, gid, groups): the calling thread's file-system identity:
// fsuid, fsgid and supplementary groups (a Uint32Array of gids). Raw system
// calls on purpose: glibc's setgroups() changes every thread of the process,
// and the daemon's other threads must stay root. setfsuid away from 0 drops
// the file-system capabilities of this thread; back to 0 restores them.
// Returns 0 or -errno (setfsuid/setfsgid report failure only by not
// changing, so the result is read back).
Napi::Value threadCreds(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t uid = a.u32(0);
  uint32_t gid = a.u32(1);
  Slice g = a.bytes(2);
  if (!a.ok()) return a.failure();
  if (g.len % sizeof(gid_t) != 0) return errResult(a.env(), EINVAL);
  std::vector<gid_t> groups(g.len / sizeof(gid_t));
  if (g.len > 0) memcpy(groups.data(), g.data, g.len);
  if (syscall(SYS_setgroups, groups.size(), groups.data()) < 0) return errResult(a.env(), errno);
  setfsgid(gid);
  setfsuid(uid);
  if (static_cast<uint32_t>(setfsgid(static_cast<gid_t>(-1))) != gid || static_cast<uint32_t>(setfsuid(static_cast<uid_t>(-1))) != uid) {
    return errResult(a.env(), EPERM);
  }
  return Napi::Number::New(a.env(), 0);
}

// threadUnshareFs(): give the calling thread its own umask, cwd and root
// (unshare(CLONE_FS)), so that umask() sets this thread's only.
Napi::Value threadUnshareFs(const Napi::CallbackInfo& info) {
  if (unshare(CLONE_FS) < 0) return errResult(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value gettidFn(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), gettid());
}

// Restrict the calling thread to the given CPUs: 0 or -errno.
Napi::Value pinThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return errResult(env, EINVAL);
  Napi::Array cpus = info[0].As<Napi::Array>();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < cpus.Length(); ++i) {
    Napi::Value v = cpus.Get(i);
    if (!v.IsNumber()) return errResult(env, EINVAL);
    int32_t cpu = v.As<Napi::Number>().Int32Value();
    if (cpu < 0 || cpu >= CPU_SETSIZE) return errResult(env, EINVAL);
    CPU_SET(cpu, &set);
  }
  if (CPU_COUNT(&set) == 0) return errResult(env, EINVAL);
  // pid 0: the calling thread only.
  if (sched_setaffinity(0, sizeof set, &set) != 0) return errResult(env, errno);
  return Napi::Number::New(env, 0);
}

const char* errnoSymbol(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EXDEV: return "EXDEV";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENODATA: return "ENODATA";
    case ERANGE: return "ERANGE";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case EAGAIN: return "EAGAIN";
    case EOPNOTSUPP: return "EOPNOTSUPP";  // same value as ENOTSUP on Linux
    case ENXIO: return "ENXIO";
    case EFBIG: return "EFBIG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EFAULT: return "EFAULT";
    case ETXTBSY: return "ETXTBSY";
    case EMLINK: return "EMLINK";
    case EDQUOT: return "EDQUOT";
    case ESPIPE: return "ESPIPE";
    case ECONNABORTED: return "ECONNABORTED";
    case EOVERFLOW: return "EOVERFLOW";
    case E2BIG: return "E2BIG";
    case EINTR: return "EINTR";
    case ECANCELED: return "ECANCELED";
    case ENOTTY: return "ENOTTY";
    case ENOTCONN: return "ENOTCONN";
    case ECONNRESET: return "ECONNRESET";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ESHUTDOWN: return "ESHUTDOWN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ETIME: return "ETIME";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EPIPE: return "EPIPE";
    case ESRCH: return "ESRCH";
    case ECHILD: return "ECHILD";
    case ESTALE: return "ESTALE";
    case EDEADLK: return "EDEADLK";
    case ENOLCK: return "ENOLCK";
    case EPROTO: return "EPROTO";
    case EALREADY: return "EALREADY";
    case EINPROGRESS: return "EINPROGRESS";
    default: return nullptr;
  }
}

// Accepts the -errno form every other function returns as well.
Napi::Value errnoName(const Napi::CallbackInfo& info) {
  Args a(info);
  int64_t e = a.i32(0);
  if (!a.ok()) return a.failure();
  if (e < 0) e = -e;
  if (const char* sym = errnoSymbol(static_cast<int>(e))) return Napi::String::New(a.env(), sym);
  char buf[24];
  snprintf(buf, sizeof buf, "E%lld", static_cast<long long>(e));
  return Napi::String::New(a.env(), buf);
}

}  // namespace

void registerProcess(Napi::Env env, Napi::Object exports) {
  exportFunction<raiseNofile>(env, exports, "raiseNofile");
  exportFunction<umaskFn>(env, exports, "umask");
  exportFunction<gettidFn>(env, exports, "gettid");
  exportFunction<threadCreds>(env, exports, "threadCreds");
  exportFunction<threadUnshareFs>(env, exports, "threadUnshareFs");
  exportFunction<pinThread>(env, exports, "pinThread");
  exportFunction<errnoName>(env, exports, "errnoName");
}

}  // namespace passfs
