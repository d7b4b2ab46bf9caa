// devWatch/devUnwatch: serve a non-blocking /dev/fuse clone from the calling
// thread's own libuv loop. Each worker thread owns its watches; nothing here is
// shared between threads, and no JS handle lives in static storage.
//
// Lifetime: a Watch is reachable from its env's WatchTable until it is closed
// (devUnwatch, a read error, or env teardown). Closing drops the JS references
// at once, while the env is certainly alive, and hands the handle to uv_close;
// the close callback then frees plain memory only, so it is safe even if it
// runs after the env is gone.
#include <uv.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "args.h"
#include "instance.h"
#include "register.h"

namespace passfs {

namespace {

struct Watch {
  uv_poll_t poll;
  WatchTable* table;
  napi_env env;
  uint32_t id;
  int fd;
  uint32_t batch;
  bool closed = false;
  // Held so the request buffer stays alive while the kernel may write to it.
  Napi::Reference<Napi::Uint8Array> buf;
  Napi::FunctionReference onRequest;
  std::optional<Napi::AsyncContext> async;
};

}  // namespace

// Outside the anonymous namespace so InstanceData can point to it.
class WatchTable {
 public:
  explicit WatchTable(napi_env env) { napi_add_env_cleanup_hook(env, onEnvCleanup, this); }

  uint32_t add(Watch* w) {
    do {
      w->id = nextId_++;
    } while (w->id == 0 || watches_.count(w->id) != 0);
    watches_.emplace(w->id, w);
    return w->id;
  }

  Watch* find(uint32_t id) const {
    auto it = watches_.find(id);
    return it == watches_.end() ? nullptr : it->second;
  }

  // Makes the id unknown to devUnwatch while the watch is still usable.
  void forget(Watch* w) { watches_.erase(w->id); }

  void close(Watch* w) {
    forget(w);
    w->closed = true;
    w->buf.Reset();
    w->onRequest.Reset();
    w->async.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll),
             [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
  }

 private:
  // A terminated worker must not leave live uv handles on its loop, and the
  // JS references must go before the env does. The hook owns the table.
  static void onEnvCleanup(void* arg) {
    auto* table = static_cast<WatchTable*>(arg);
    while (!table->watches_.empty()) table->close(table->watches_.begin()->second);
    delete table;
  }

  uint32_t nextId_ = 1;
  std::unordered_map<uint32_t, Watch*> watches_;
};

namespace {

// Calls onRequest(value). Returns false when the batch must end: the callback
// threw, the thread is terminating, or the callback closed its own watch.
//
// Uses napi_make_callback directly: node-addon-api's MakeCallback wrapper
// builds an Error object when the call fails, which aborts the process if
// the call failed because the worker is being terminated.
bool deliver(Watch* w, double value) {
  napi_env env = w->env;
  napi_value recv, arg, result;
  napi_get_global(env, &recv);
  napi_create_double(env, value, &arg);
  napi_value fn = w->onRequest.Value();
  if (napi_make_callback(env, *w->async, recv, fn, 1, &arg, &result) == napi_ok) {
    return !w->closed;
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    // We were called from the event loop, not from JS, so nothing above us
    // would ever see the exception (it would stay pending and poison the next
    // Node-API call): report it as uncaught, like any throwing I/O callback.
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  // Without a pending exception, JS can no longer run on this thread: stop
  // reading requests nobody could answer.
  return false;
}

// The watch ends with one last call carrying the reason. It is already gone
// from the table then, so devUnwatch from that call (or from promise
// reactions it triggers, which run before it returns) reports -ENOENT.
void finish(Watch* w, double reason) {
  uv_poll_stop(&w->poll);
  w->table->forget(w);
  deliver(w, reason);
  if (!w->closed) w->table->close(w);
}

void onReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* w = static_cast<Watch*>(handle->data);
  Napi::Env env(w->env);
  uint32_t served = 0;
  while (served < w->batch) {
    Napi::HandleScope scope(env);
    // Looked up per read rather than cached: if the callback transferred the
    // buffer away, the fresh view is empty instead of dangling.
    Napi::Uint8Array view = w->buf.Value();
    ssize_t n = read(w->fd, view.Data(), view.ByteLength());
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN) break;
      // The request was interrupted or aborted before we got it.
      if (err == ENOENT) {
        ++served;
        continue;
      }
      finish(w, -err);
      return;
    }
    if (n == 0) {
      // End of stream (never from /dev/fuse, but a pipe or socket would
      // otherwise poll readable forever).
      finish(w, 0);
      return;
    }
    ++served;
    if (!deliver(w, static_cast<double>(n))) return;
  }
  // libuv reports POLLERR (a dead FUSE connection) as a status and stops the
  // handle; the read above normally turns it into the kernel's errno instead.
  if (status < 0 && !w->closed) {
    Napi::HandleScope scope(env);
    finish(w, status);
  }
}

Napi::Value devWatch(const Napi::CallbackInfo& info) {
  Args a(info);
  int fd = a.fd(0);
  a.bytes(1);  // type check only: the view is looked up again at every read
  uint32_t batch = a.u32(2);
  Napi::Function onRequest = a.func(3);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  if (batch == 0) {
    Napi::TypeError::New(env, "argument 2: batch must be at least 1").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return errResult(env, EINVAL);

  auto* w = new Watch();
  // uv_poll_init also switches the fd to O_NONBLOCK.
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    delete w;  // not registered with the loop on failure
    return errResult(env, -rc);
  }
  w->poll.data = w;
  w->table = instanceData(env)->watches;
  w->env = env;
  w->fd = fd;
  w->batch = batch;
  w->buf = Napi::Reference<Napi::Uint8Array>::New(info[1].As<Napi::Uint8Array>(), 1);
  w->onRequest = Napi::Persistent(onRequest);
  w->async.emplace(env, "passfs:devWatch");
  uint32_t id = w->table->add(w);
  rc = uv_poll_start(&w->poll, UV_READABLE, onReadable);
  if (rc < 0) {
    w->table->close(w);
    return errResult(env, -rc);
  }
  return Napi::Number::New(env, id);
}

Napi::Value devUnwatch(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Watch* w = instanceData(env)->watches->find(id);
  // Unknown, or already ended by an error and reported through the callback.
  if (w == nullptr) return errResult(env, ENOENT);
  w->table->close(w);
  return Napi::Number::New(env, 0);
}

}  // namespace

void registerDevWatch(Napi::Env env, Napi::Object exports) {
  // The table frees itself from its env cleanup hook.
  instanceData(env)->watches = new WatchTable(env);
  exportFunction<devWatch>(env, exports, "devWatch");
  exportFunction<devUnwatch>(env, exports, "devUnwatch");
}

}  // namespace passfs
