#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace passfs {

namespace {

// 2^63 and 2^64 as doubles: the first values that no longer fit.
constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

}  // namespace

Napi::Value Args::failure() const {
  if (thrown_) return Napi::Value();
  return errResult(env(), errnum_);
}

void Args::throwTypeError(const char* msg) {
  Napi::TypeError::New(env(), msg).ThrowAsJavaScriptException();
  thrown_ = true;
}

void Args::typeError(size_t i, const char* expected) {
  char msg[96];
  snprintf(msg, sizeof msg, "argument %zu: expected %s", i, expected);
  throwTypeError(msg);
}

int32_t Args::i32(size_t i) {
  int32_t v = 0;
  if (!thrown_ && napi_get_value_int32(env(), info_[i], &v) != napi_ok) typeError(i, "a number");
  return v;
}

uint32_t Args::u32(size_t i) {
  uint32_t v = 0;
  if (!thrown_ && napi_get_value_uint32(env(), info_[i], &v) != napi_ok) typeError(i, "a number");
  return v;
}

int64_t Args::i64(size_t i) {
  double d = 0;
  if (thrown_) return 0;
  // A bigint carries all 64 bits (directory offsets are 64-bit cookies), so
  // it is taken as the raw two's-complement value.
  napi_valuetype t;
  if (napi_typeof(env(), info_[i], &t) == napi_ok && t == napi_bigint) {
    uint64_t v = 0;
    bool lossless = false;
    napi_get_value_bigint_uint64(env(), info_[i], &v, &lossless);
    if (!lossless) typeError(i, "a 64-bit bigint");
    return static_cast<int64_t>(v);
  }
  if (napi_get_value_double(env(), info_[i], &d) != napi_ok || std::trunc(d) != d || d < -kTwo63 ||
      d >= kTwo63) {
    typeError(i, "an integer");
    return 0;
  }
  return static_cast<int64_t>(d);
}

uint64_t Args::u64(size_t i) {
  double d = 0;
  if (thrown_) return 0;
  if (napi_get_value_double(env(), info_[i], &d) != napi_ok || std::trunc(d) != d || d < 0 ||
      d >= kTwo64) {
    typeError(i, "a non-negative integer");
    return 0;
  }
  return static_cast<uint64_t>(d);
}

bool Args::flag(size_t i) {
  bool v = false;
  if (!thrown_ && napi_get_value_bool(env(), info_[i], &v) != napi_ok) typeError(i, "a boolean");
  return v;
}

const char* Args::cstring(size_t i, PathBuf& buf, bool allowBytes) {
  buf.s[0] = '\0';
  if (thrown_) return buf.s;
  napi_value v = info_[i];
  size_t len = 0;
  if (napi_get_value_string_utf8(env(), v, buf.s, sizeof buf.s, &len) != napi_ok) {
    napi_typedarray_type type;
    void* data = nullptr;
    if (!allowBytes ||
        napi_get_typedarray_info(env(), v, &type, &len, &data, nullptr, nullptr) != napi_ok ||
        type != napi_uint8_array) {
      typeError(i, allowBytes ? "a string or Uint8Array" : "a string");
      return buf.s;
    }
    if (len < PATH_MAX) {
      if (len > 0) memcpy(buf.s, data, len);
      buf.s[len] = '\0';
    }
  }
  // Same limit the kernel applies (PATH_MAX including the terminating NUL).
  int err = 0;
  if (len >= PATH_MAX) {
    err = ENAMETOOLONG;
  } else if (memchr(buf.s, '\0', len) != nullptr) {
    // The kernel would silently see a shorter name than the caller meant.
    err = EINVAL;
  }
  if (errnum_ == 0) errnum_ = err;
  return buf.s;
}

Slice Args::bytes(size_t i) {
  Slice s;
  if (thrown_) return s;
  napi_typedarray_type type;
  void* data = nullptr;
  if (napi_get_typedarray_info(env(), info_[i], &type, &s.len, &data, nullptr, nullptr) !=
          napi_ok ||
      type != napi_uint8_array) {
    typeError(i, "a Uint8Array");
    return Slice();
  }
  s.data = static_cast<uint8_t*>(data);
  return s;
}

Slice Args::slice(size_t i) {
  Slice whole = bytes(i);
  uint64_t off = u64(i + 1);
  uint64_t len = u64(i + 2);
  if (thrown_) return Slice();
  if (off > whole.len || len > whole.len - off) {
    char msg[128];
    snprintf(msg, sizeof msg, "arguments %zu-%zu: slice [%llu, +%llu) outside a view of %zu bytes", i,
             i + 2, static_cast<unsigned long long>(off), static_cast<unsigned long long>(len),
             whole.len);
    throwTypeError(msg);
    return Slice();
  }
  Slice s;
  s.data = whole.data + off;
  s.len = static_cast<size_t>(len);
  return s;
}

double* Args::f64(size_t i, size_t minLen) {
  if (thrown_) return nullptr;
  napi_typedarray_type type;
  size_t len = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env(), info_[i], &type, &len, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array || len < minLen) {
    char what[64];
    snprintf(what, sizeof what, "a Float64Array of at least %zu elements", minLen);
    typeError(i, what);
    return nullptr;
  }
  return static_cast<double*>(data);
}

Napi::Function Args::func(size_t i) {
  napi_valuetype t = napi_undefined;
  if (!thrown_ && (napi_typeof(env(), info_[i], &t) != napi_ok || t != napi_function)) {
    typeError(i, "a function");
  }
  return thrown_ ? Napi::Function() : info_[i].As<Napi::Function>();
}

Napi::Value sysResult(Napi::Env env, int64_t rc) {
  double v = rc < 0 ? -static_cast<double>(errno) : static_cast<double>(rc);
  return Napi::Number::New(env, v);
}

Napi::Value errResult(Napi::Env env, int errnum) {
  return Napi::Number::New(env, -static_cast<double>(errnum));
}

}  // namespace passfs
