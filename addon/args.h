// Argument conversion for the thin wrappers.
//
// Convention (see src/native/index.ts): a wrong argument type or an
// out-of-range buffer slice throws a TypeError; everything the kernel would
// reject anyway (a name that is too long, a NUL inside a name) becomes a
// -errno return value like any syscall failure.
//
// The Args helper records the first problem and, once a TypeError is pending,
// makes every later getter a no-op, so a wrapper reads all its arguments in a
// row and checks once (a TypeError wins over an errno from a bad name):
//
//   Args a(info);
//   int fd = a.fd(0);
//   ...
//   if (!a.ok()) return a.failure();
//   return sysResult(a.env(), syscall(...));
#pragma once

#include <napi.h>

#include <climits>
#include <cstddef>
#include <cstdint>

namespace passfs {

// A NUL-terminated copy of a Name. Lives on the caller's stack. The 3 bytes
// beyond PATH_MAX + 1 let a single UTF-8 conversion tell "fits" from
// "truncated": V8 never writes a partial code point (up to 4 bytes), so a
// string longer than PATH_MAX - 1 bytes always yields at least PATH_MAX bytes.
struct PathBuf {
  char s[PATH_MAX + 4];
};

// A bounds-checked (view, offset, length) slice of a Uint8Array.
struct Slice {
  uint8_t* data = nullptr;
  size_t len = 0;
};

class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}

  Napi::Env env() const { return info_.Env(); }
  bool ok() const { return !thrown_ && errnum_ == 0; }
  // After !ok(): undefined with the TypeError pending, else -errno.
  Napi::Value failure() const;

  // ToInt32 / ToUint32 semantics (so -1 becomes 0xffffffff for uid/gid).
  int32_t i32(size_t i);
  uint32_t u32(size_t i);
  int fd(size_t i) { return i32(i); }
  // Integral numbers only: offsets and sizes must not be silently truncated.
  int64_t i64(size_t i);
  uint64_t u64(size_t i);
  bool flag(size_t i);

  // A Name: a string (UTF-8 encoded) or a Uint8Array taken byte for byte.
  const char* name(size_t i, PathBuf& buf) { return cstring(i, buf, true); }
  // A plain string argument (mount options and the like).
  const char* str(size_t i, PathBuf& buf) { return cstring(i, buf, false); }

  // Arguments i, i+1, i+2 as (view, offset, length).
  Slice slice(size_t i);
  // A whole Uint8Array.
  Slice bytes(size_t i);
  // A Float64Array with at least minLen elements.
  double* f64(size_t i, size_t minLen);
  Napi::Function func(size_t i);

 private:
  void throwTypeError(const char* msg);
  void typeError(size_t i, const char* expected);
  const char* cstring(size_t i, PathBuf& buf, bool allowBytes);

  const Napi::CallbackInfo& info_;
  bool thrown_ = false;
  int errnum_ = 0;
};

// Turn a syscall return value into the JS result. Call it directly on the
// syscall's result, before anything else can clobber errno.
Napi::Value sysResult(Napi::Env env, int64_t rc);

// Negative errno (e.g. from a failed helper sequence) as a JS number.
Napi::Value errResult(Napi::Env env, int errnum);

}  // namespace passfs
