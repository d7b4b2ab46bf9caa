// Each source file adds its own functions to the module's exports.
#pragma once

#include <napi.h>

namespace passfs {

void registerDevice(Napi::Env env, Napi::Object exports);
void registerDevWatch(Napi::Env env, Napi::Object exports);
void registerFdIo(Napi::Env env, Napi::Object exports);
void registerLowerFs(Napi::Env env, Napi::Object exports);
void registerXattr(Napi::Env env, Napi::Object exports);
void registerProcess(Napi::Env env, Napi::Object exports);
void registerUring(Napi::Env env, Napi::Object exports);
void registerWatch(Napi::Env env, Napi::Object exports);
void registerHandover(Napi::Env env, Napi::Object exports);

// exports[name] = fn. The callback is a template argument so each call goes
// straight to it, without the per-function heap record of the runtime form.
template <Napi::Function::Callback fn>
void exportFunction(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<fn>(env, name));
}

}  // namespace passfs
