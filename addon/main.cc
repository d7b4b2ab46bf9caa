// Module entry point. NODE_API_MODULE makes the addon context-aware, so every
// worker thread that loads it gets its own exports and instance data.
#include "register.h"

namespace {

Napi::Object initPassfs(Napi::Env env, Napi::Object exports) {
  passfs::registerDevice(env, exports);
  passfs::registerDevWatch(env, exports);
  passfs::registerFdIo(env, exports);
  passfs::registerLowerFs(env, exports);
  passfs::registerXattr(env, exports);
  passfs::registerProcess(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(passfs, initPassfs)
