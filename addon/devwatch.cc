// devWatch/devUnwatch: serve a non-blocking /dev/fuse clone from the calling
// thread's own libuv loop. Each worker thread owns its watches; nothing here is
// shared between threads, and no JS handle lives in static storage.
//
// One wake-up per request. All clones of a FUSE connection share one input
// queue and one wait queue: if each worker's loop polled its clone the usual
// way (libuv's epoll), every request would wake every worker, and all but
// one would find nothing to read (measured: two workers were 23% slower than
// one on the many-small-files bench). EPOLLEXCLUSIVE wakes one waiter only,
// but only a thread blocked in epoll_wait on that very epoll set counts as
// one: nested inside libuv's epoll, every worker is woken again. So each
// thread blocks in its own epoll set, holding its clones (exclusive) and
// libuv's backend fd (plain), from a prepare handle: right before libuv
// would block, with libuv's own timeout. It goes back to the loop as soon as
// the loop has anything to do (an event on the backend fd, a timer due, an
// immediate), and the loop then polls without blocking: an idle handle is
// kept running whenever the callback has returned, because libuv's own
// timeout ignores fd watchers started but not yet in its epoll set (which
// uv_backend_timeout counts), and libuv blocking there would leave the
// clones unwatched.
//
// Lifetime: a Watch is reachable from its env's WatchTable until it is closed
// (devUnwatch, a read error, or env teardown). It reads from its own dup of
// the fd, so the caller closing or reusing that number cannot touch the
// epoll set. Closing takes the dup out of the set and drops the JS
// references at once, while the env is certainly alive; the memory is freed
// when no event list of the prepare callback can still point to it (its
// next pass, or the table's end). The table ends in an async cleanup hook
// that Node waits for, so the handles' close callbacks (code in this addon)
// run before the addon can be unloaded.
#include <fcntl.h>
#include <sys/epoll.h>
#include <uv.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "args.h"
#include "instance.h"
#include "register.h"

namespace passfs {

namespace {

struct Watch {
  WatchTable* table;
  napi_env env;
  uint32_t id;
  int fd;
  uint32_t batch;
  bool stopped = false;  // out of the epoll set
  bool closed = false;   // JS references dropped
  // Held so the request buffer stays alive while the kernel may write to it.
  Napi::Reference<Napi::Uint8Array> buf;
  Napi::FunctionReference onRequest;
  std::optional<Napi::AsyncContext> async;
};

}  // namespace

static void serve(Watch* w, uint32_t events);
namespace {
void finish(Watch* w, double reason);
}  // namespace

// Outside the anonymous namespace so InstanceData can point to it.
class WatchTable {
 public:
  explicit WatchTable(napi_env env) { napi_add_async_cleanup_hook(env, onEnvCleanup, this, &cleanup_); }

  // Starts serving w (its fd, env and fields set): 0, or an errno.
  int add(Watch* w, uv_loop_t* loop) {
    if (epfd_ < 0) {
      int rc = open(loop);
      if (rc != 0) return rc;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = w;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, w->fd, &ev) < 0) return errno;
    do {
      w->id = nextId_++;
    } while (w->id == 0 || watches_.count(w->id) != 0);
    watches_.emplace(w->id, w);
    if (++live_ == 1) {
      uv_prepare_start(prepare_, onPrepare);
      uv_idle_start(idle_, [](uv_idle_t*) {});  // the first pass: see the header
    }
    return 0;
  }

  Watch* find(uint32_t id) const {
    auto it = watches_.find(id);
    return it == watches_.end() ? nullptr : it->second;
  }

  // Makes the id unknown to devUnwatch while the watch is still usable.
  void forget(Watch* w) { watches_.erase(w->id); }

  // No more requests for w (it may still deliver its last call).
  void stop(Watch* w) {
    if (w->stopped) return;
    w->stopped = true;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, w->fd, nullptr);
    ::close(w->fd);
    // With nothing to serve the loop blocks in libuv again, and may end.
    if (--live_ == 0) {
      uv_prepare_stop(prepare_);
      uv_idle_stop(idle_);
    }
  }

  void close(Watch* w) {
    forget(w);
    stop(w);
    w->closed = true;
    w->buf.Reset();
    w->onRequest.Reset();
    w->async.reset();
    dead_.push_back(w);
  }

 private:
  int open(uv_loop_t* loop) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return errno;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the loop's own events
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, uv_backend_fd(loop), &ev) < 0) {
      int err = errno;
      ::close(epfd_);
      epfd_ = -1;
      return err;
    }
    loop_ = loop;
    prepare_ = new uv_prepare_t();
    uv_prepare_init(loop, prepare_);
    prepare_->data = this;
    idle_ = new uv_idle_t();
    uv_idle_init(loop, idle_);
    idle_->data = this;
    return 0;
  }

  void sweep() {
    for (Watch* w : dead_) delete w;
    dead_.clear();
  }

  // Blocks until a request or the loop's next event; serves requests until
  // the loop has something to do.
  static void onPrepare(uv_prepare_t* handle) {
    auto* t = static_cast<WatchTable*>(handle->data);
    // Stopped while this callback runs (else the timeout below is always 0),
    // running again once it returns, while there is anything to serve.
    uv_idle_stop(t->idle_);
    struct Restart {
      WatchTable* t;
      ~Restart() {
        if (t->live_ > 0) uv_idle_start(t->idle_, [](uv_idle_t*) {});
      }
    } restart{t};
    epoll_event events[8];
    while (t->live_ > 0) {
      t->sweep();
      uv_update_time(t->loop_);  // else a due timer would look a whole timeout away
      int timeout = uv_backend_timeout(t->loop_);
      int n = epoll_wait(t->epfd_, events, 8, timeout);
      if (n == 0 || (n < 0 && errno == EINTR)) return;  // a timer is due, or a signal: the loop's turn
      if (n < 0) {
        t->failAll(-errno);  // cannot wait for requests any more: say so, as a read error would
        return;
      }
      bool loopHasWork = false;
      for (int i = 0; i < n; i++) {
        auto* w = static_cast<Watch*>(events[i].data.ptr);
        if (w == nullptr) {
          loopHasWork = true;
        } else if (!w->stopped) {
          serve(w, events[i].events);
        }
      }
      // Timeout 0: the loop has work already (an immediate, a pending callback).
      if (loopHasWork || timeout == 0) return;
    }
  }

  // Every watch ends with `reason` (its callback's last call).
  void failAll(double reason) {
    std::vector<Watch*> all;
    for (auto& [id, w] : watches_) all.push_back(w);
    for (Watch* w : all) finish(w, reason);
  }

  // A terminated worker must not leave live uv handles on its loop, and the
  // JS references must go before the env does. The hook owns the table; it
  // is done (and the addon may go) when both handles are closed.
  static void onEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    auto* table = static_cast<WatchTable*>(arg);
    while (!table->watches_.empty()) table->close(table->watches_.begin()->second);
    table->sweep();
    if (table->epfd_ >= 0) ::close(table->epfd_);
    if (table->prepare_ == nullptr) {
      table->done();
      return;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(table->prepare_), onHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(table->idle_), onHandleClosed);
  }
  static void onHandleClosed(uv_handle_t* h) {
    auto* table = static_cast<WatchTable*>(h->data);
    if (++table->closedHandles_ == 2) table->done();
  }
  void done() {
    napi_remove_async_cleanup_hook(cleanup_);
    delete prepare_;
    delete idle_;
    delete this;
  }

  uint32_t nextId_ = 1;
  std::unordered_map<uint32_t, Watch*> watches_;
  std::vector<Watch*> dead_;
  int epfd_ = -1;
  int live_ = 0;  // watches in the epoll set
  uv_loop_t* loop_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  int closedHandles_ = 0;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
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
  // Without a pending exception, JS can no longer run on this thread (it is
  // being terminated): stop reading requests nobody could answer, and leave
  // them to the other workers.
  w->table->stop(w);
  return false;
}

// The watch ends with one last call carrying the reason. It is already gone
// from the table then, so devUnwatch from that call (or from promise
// reactions it triggers, which run before it returns) reports -ENOENT.
void finish(Watch* w, double reason) {
  w->table->stop(w);
  w->table->forget(w);
  deliver(w, reason);
  if (!w->closed) w->table->close(w);
}

}  // namespace

// Reads and delivers up to a batch of requests from w's clone.
static void serve(Watch* w, uint32_t events) {
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
      if (err == EAGAIN) {
        if (served > 0) return;
        // An error or hang-up with nothing to read (a dead FUSE connection
        // normally makes the read fail with the kernel's errno instead).
        if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
          finish(w, -EIO);
          return;
        }
        // Woken for a request another worker took first: said to the
        // callback as -EAGAIN (counted, to show how often it happens).
        deliver(w, -EAGAIN);
        return;
      }
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
}

namespace {

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

  // Non-blocking: a request can be taken by another worker between the
  // wake-up and the read.
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return errResult(env, errno);
  int fl = fcntl(own, F_GETFL);
  if (fl < 0 || fcntl(own, F_SETFL, fl | O_NONBLOCK) < 0) {
    int err = errno;
    ::close(own);
    return errResult(env, err);
  }
  auto* w = new Watch();
  w->table = instanceData(env)->watches;
  w->env = env;
  w->fd = own;
  w->batch = batch;
  int rc = w->table->add(w, loop);
  if (rc != 0) {
    ::close(own);
    delete w;  // never registered
    return errResult(env, rc);
  }
  w->buf = Napi::Reference<Napi::Uint8Array>::New(info[1].As<Napi::Uint8Array>(), 1);
  w->onRequest = Napi::Persistent(onRequest);
  w->async.emplace(env, "passfs:devWatch");
  uint32_t id = w->id;
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
