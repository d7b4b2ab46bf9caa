// Module entry point. NODE_API_MODULE makes the addon context-aware, so every
// worker thread that loads it gets its own exports and instance data.
#include "instance.h"
#include "register.h"

namespace {

Napi::Object initPassfs(Napi::Env env, Napi::Object exports) {
  // The env's only instance-data slot; deleted by node-addon-api's default
  // finalizer when the env goes away (the tables have their own cleanup).
  env.SetInstanceData(new passfs::InstanceData());
  passfs::registerDevice(env, exports);
  passfs::registerDevWatch(env, exports);
  passfs::registerFdIo(env, exports);
  passfs::registerLowerFs(env, exports);
  passfs::registerXattr(env, exports);
  passfs::registerProcess(env, exports);
  passfs::registerUring(env, exports);
  passfs::registerWatch(env, exports);
  passfs::registerHandover(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(passfs, initPassfs)
