// io_uring: one ring per worker thread, reaped from that thread's own libuv
// loop. Preparing an SQE and submitting are separate calls so JS can batch;
// completions come back as [userData, res] pairs in a Float64Array owned by
// JS, followed by a call to the ring's onComplete(n).
//
// Reaping: the ring has an eventfd registered (the kernel signals it for every
// CQE posted) and a uv_poll watches that eventfd. When it is readable the
// eventfd is drained, then CQEs are copied out in batches of up to
// cqes.length / 2 and delivered until the CQ is empty. onComplete may prepare
// and submit new SQEs (and even close the ring) while it runs.
//
// Lifetime: same scheme as devwatch.cc. A Ring is reachable from its env's
// RingTable until it is closed (uringClose or env teardown) or, if it has a
// slot, orphaned at env teardown. Closing drops the JS references, waits
// (bounded) for the reads and writes in flight, since their buffers may be
// JS memory, tears the ring down, then hands the poll handle to uv_close;
// the close callback only frees the handle.
//
// FUSE entries and worker death. An entry is a FUSE_IO_URING command the
// kernel completes when it hands a request over; the reply goes back with a
// COMMIT_AND_FETCH that re-arms the entry. Two kernel facts (6.18) shape what
// happens when a worker thread dies:
//  - an armed entry belongs to the thread that submitted it: the kernel
//    cancels it when that thread exits, and a request handed to it at that
//    very moment is lost (the application waits forever). Closing the ring
//    earlier does the same, and re-arming is the only way to answer. So a
//    dying worker must not re-arm anything, and must not close the ring.
//  - a request an entry holds can be answered from any thread, through any
//    ring: the commit names the request by its id and the kernel reads the
//    reply from the entry's own buffers.
// So a ring created with a slot survives its thread (Adoption, below): the
// dying thread waits for its own reads and writes to finish, leaves the
// entries' state behind, and the replacement worker adopts the ring with its
// buffers, answers what the dead one had started (ECONNABORTED), serves what
// arrived after, and registers again the entries the kernel cancelled. The
// entries' buffers are therefore native memory owned by the ring (an arena),
// never JS memory that dies with an isolate.
//
// Requests that arrive while a queue has no armed entry wait in the kernel's
// queue: registering new entries does not fetch them, only a commit on that
// queue does (the daemon sends one harmless request per queue after a
// replacement starts).
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "args.h"
#include "fuse_abi.h"
#include "instance.h"
#include "register.h"

// liburing 2.3 knows these; older headers may not.
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SQE128
#define IORING_SETUP_SQE128 (1U << 10)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif

namespace passfs {

static_assert(offsetof(io_uring_sqe, cmd) == 48, "SQE command area starts at byte 48");

namespace {

// Tried first, dropped if the kernel refuses them (EINVAL):
//  - SUBMIT_ALL: an SQE that fails early still gets its CQE and does not stop
//    the rest of the batch, so every prepared SQE yields exactly one CQE.
//  - COOP_TASKRUN: completion task work runs when this thread next enters the
//    kernel (it is woken if it sleeps in epoll), instead of an IPI.
//  - SINGLE_ISSUER: only the creating thread submits. Not for rings with a
//    slot: their adopter submits too.
constexpr unsigned kOptionalSetupFlags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;

// A REGISTER's {header, payload} iovec pair. The kernel reads it when it
// consumes the SQE, so it lives until the SQ head has moved past `seq`.
struct PendingIov {
  unsigned seq;  // position of the SQE in the SQ (liburing's sqe_tail)
  iovec iov[FUSE_URING_IOV_SEGS];
};

// Where a FUSE entry stands, as far as this ring knows. JS reads these
// numbers after an adoption (uringFuseTakeOver; src/native/index.ts, FuseEntryState).
enum class EntryState : uint8_t {
  kIdle = 0,       // not registered with the kernel (never, or cancelled)
  kArmed = 1,      // waiting for a request
  kQueued = 2,     // a REGISTER or COMMIT_AND_FETCH prepared, not yet submitted
  kDelivered = 3,  // a request arrived that JS has not seen (only after orphaning)
  kHeld = 4,       // JS has the request and has not answered it
  kReplyReady = 5, // JS wrote the reply but its commit was never submitted
};

struct FuseEntry {
  int devFd;
  uint16_t qid;
  uint8_t* header;  // passfs_uring_req_header, inside the ring's arena
  EntryState state = EntryState::kIdle;
};

// user_data of the NOPs that replace unsubmitted SQEs when a ring is given up.
constexpr uint64_t kNopUserData = 0xFFFFFFFFFFFFull;

// How long a dying or closing ring waits for its reads and writes.
constexpr unsigned kQuiesceMs = 10'000;

}  // namespace

struct Ring {
  uv_poll_t* poll = nullptr;  // on the owning thread's loop; replaced on adoption
  RingTable* table = nullptr;
  napi_env env = nullptr;
  uint32_t id = 0;
  uint32_t slot = 0;  // > 0: kept for uringAdopt(slot) when its thread dies
  int efd = -1;
  bool closed = false;
  io_uring ring;
  // std::deque: appending never moves the arrays already handed out.
  std::deque<PendingIov> pendingIov;
  // Keyed by the entry's user_data (its commits use the same one).
  std::unordered_map<uint64_t, FuseEntry> fuseEntries;
  std::vector<FuseEntry*> queued;  // entries in kQueued, for the next submit
  // Reads, writes and NOPs submitted or prepared whose CQE has not been reaped.
  uint32_t inflight = 0;
  // The entries' buffers (see the top of the file); freed with the ring.
  uint8_t* arena = nullptr;
  size_t arenaSize = 0;
  Napi::Reference<Napi::Float64Array> cqes;
  Napi::FunctionReference onComplete;
  std::optional<Napi::AsyncContext> async;

  ~Ring() { free(arena); }
  bool inArena(const Slice& s) const {
    return arena != nullptr && s.data >= arena && s.len <= arenaSize &&
           static_cast<size_t>(s.data - arena) <= arenaSize - s.len;
  }
};

namespace {

// Rings whose thread died, by slot, until adopted. Process-wide: the adopter
// is another thread.
std::mutex gOrphansMutex;
std::unordered_map<uint32_t, Ring*> gOrphans;

void answerHeldFuseRequests(Ring* r);
void prepAbortReply(io_uring_sqe* sqe, uint64_t userData, FuseEntry& e);
void prepCommit(io_uring_sqe* sqe, uint64_t userData, FuseEntry& e);
void markQueued(Ring* r, FuseEntry& e);
int submit(Ring* r);
bool quiesce(Ring* r, EntryState delivered);

void startPoll(Ring* r, uv_loop_t* loop, uv_poll_cb cb, int* rc) {
  r->poll = new uv_poll_t();
  *rc = uv_poll_init(loop, r->poll, r->efd);
  if (*rc < 0) {
    delete r->poll;
    r->poll = nullptr;
    return;
  }
  r->poll->data = r;
  *rc = uv_poll_start(r->poll, UV_READABLE, cb);
}

// Stop watching; the handle is freed by its close callback, the ring is not
// touched from there (it may be adopted by another thread by then).
void stopPoll(Ring* r) {
  if (r->poll == nullptr) return;
  uv_poll_stop(r->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(r->poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  r->poll = nullptr;
}

void destroy(Ring* r) {
  // Cancellation CQEs must not signal an eventfd about to be closed.
  io_uring_unregister_eventfd(&r->ring);
  answerHeldFuseRequests(r);
  quiesce(r, EntryState::kHeld);
  io_uring_queue_exit(&r->ring);
  ::close(r->efd);
  delete r;  // frees the arena: the kernel no longer writes to it
}

}  // namespace

// Outside the anonymous namespace so InstanceData can point to it.
class RingTable {
 public:
  explicit RingTable(napi_env env) { napi_add_env_cleanup_hook(env, onEnvCleanup, this); }

  uint32_t add(Ring* r) {
    do {
      r->id = nextId_++;
    } while (r->id == 0 || rings_.count(r->id) != 0);
    rings_.emplace(r->id, r);
    r->table = this;
    return r->id;
  }

  Ring* find(uint32_t id) const {
    auto it = rings_.find(id);
    return it == rings_.end() ? nullptr : it->second;
  }

  // Detach from JS and this thread's loop.
  void detach(Ring* r) {
    rings_.erase(r->id);
    r->closed = true;
    r->cqes.Reset();
    r->onComplete.Reset();
    r->async.reset();
    stopPoll(r);
  }

  void close(Ring* r) {
    detach(r);
    destroy(r);
  }

 private:
  // A terminated worker must not leave live uv handles on its loop, and the
  // JS references must go before the env does. Rings with a slot are kept
  // for the replacement worker. The hook owns the table.
  static void onEnvCleanup(void* arg) {
    auto* table = static_cast<RingTable*>(arg);
    while (!table->rings_.empty()) {
      Ring* r = table->rings_.begin()->second;
      table->detach(r);
      if (r->slot == 0 || !quiesce(r, EntryState::kDelivered)) {
        destroy(r);
        continue;
      }
      std::lock_guard<std::mutex> lock(gOrphansMutex);
      Ring*& kept = gOrphans[r->slot];
      if (kept != nullptr) destroy(kept);
      kept = r;
    }
    delete table;
  }

  uint32_t nextId_ = 1;
  std::unordered_map<uint32_t, Ring*> rings_;
};

namespace {

// Track completions: a FUSE entry got a request (res >= 0; `delivered` tells
// whether JS sees it) or ended; anything else was a read, write or NOP.
inline void noteCompletion(Ring* r, uint64_t userData, int32_t res, EntryState delivered) {
  if (!r->fuseEntries.empty()) {
    auto it = r->fuseEntries.find(userData);
    if (it != r->fuseEntries.end()) {
      it->second.state = res >= 0 ? delivered : EntryState::kIdle;
      return;
    }
  }
  if (r->inflight > 0) r->inflight--;
}

// Drop the iovec pairs of REGISTER SQEs the kernel has consumed.
void releaseConsumedIov(Ring* r) {
  unsigned head = io_uring_smp_load_acquire(r->ring.sq.khead);
  while (!r->pendingIov.empty() && static_cast<int>(head - r->pendingIov.front().seq) > 0) {
    r->pendingIov.pop_front();
  }
}

int submit(Ring* r) {
  int rc = io_uring_submit(&r->ring);
  releaseConsumedIov(r);
  if (rc >= 0) {
    // SUBMIT_ALL: everything prepared was consumed.
    for (FuseEntry* e : r->queued) {
      if (e->state == EntryState::kQueued) e->state = EntryState::kArmed;
    }
    r->queued.clear();
  }
  return rc;
}

enum class Delivered { kOk, kThrew, kStop };

// Calls onComplete(n). Anything but kOk ends the current wake-up: the
// callback threw, the thread is terminating, or the callback closed the ring.
//
// Uses napi_make_callback directly, like devwatch.cc: node-addon-api's
// MakeCallback builds an Error object when the call fails, which aborts the
// process if it failed because the worker is being terminated.
Delivered deliver(Ring* r, uint32_t n) {
  napi_env env = r->env;
  napi_value recv, arg, result;
  napi_get_global(env, &recv);
  napi_create_uint32(env, n, &arg);
  napi_value fn = r->onComplete.Value();
  if (napi_make_callback(env, *r->async, recv, fn, 1, &arg, &result) == napi_ok) {
    return r->closed ? Delivered::kStop : Delivered::kOk;
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    // Called from the event loop: nothing above us would see the exception,
    // so report it as uncaught, like any throwing I/O callback.
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
    return Delivered::kThrew;
  }
  // Without a pending exception, JS can no longer run on this thread.
  return Delivered::kStop;
}

// Move up to `cap` CQEs into out[] as (user_data, res) pairs and release
// their CQ slots. io_uring_peek_batch_cqe also flushes CQEs the kernel kept
// aside after a CQ overflow.
size_t reap(Ring* r, double* out, size_t cap) {
  constexpr unsigned kChunk = 64;
  io_uring_cqe* batch[kChunk];
  size_t n = 0;
  while (n < cap) {
    unsigned want = static_cast<unsigned>(std::min<size_t>(cap - n, kChunk));
    unsigned got = io_uring_peek_batch_cqe(&r->ring, batch, want);
    for (unsigned i = 0; i < got; ++i) {
      out[2 * (n + i)] = static_cast<double>(batch[i]->user_data);
      out[2 * (n + i) + 1] = static_cast<double>(batch[i]->res);
      noteCompletion(r, batch[i]->user_data, batch[i]->res, EntryState::kHeld);
    }
    io_uring_cq_advance(&r->ring, got);
    n += got;
    if (got < want) break;
  }
  return n;
}

void onReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* r = static_cast<Ring*>(handle->data);
  // Drain first: a CQE posted from here on signals the eventfd again, so
  // nothing is missed (at worst the next wake-up finds the CQ empty).
  uint64_t count;
  while (read(r->efd, &count, sizeof count) < 0 && errno == EINTR) {
  }
  Napi::Env env(r->env);
  while (!r->closed) {
    Napi::HandleScope scope(env);
    // Looked up per batch: if JS detached the buffer, the view is empty
    // (the completions then stay in the CQ) instead of dangling.
    Napi::Float64Array view = r->cqes.Value();
    size_t cap = std::min<size_t>(view.ElementLength() / 2, UINT32_MAX);
    size_t n = reap(r, view.Data(), cap);
    if (n == 0) break;
    Delivered d = deliver(r, static_cast<uint32_t>(n));
    if (d == Delivered::kOk) continue;
    // The process may survive the exception (an uncaughtException handler):
    // the eventfd is drained, so wake up again for what is left in the CQ.
    if (d == Delivered::kThrew && !r->closed && io_uring_cq_ready(&r->ring) > 0) {
      eventfd_write(r->efd, 1);
    }
    return;
  }
}

// Attach `r` to this env: JS references, the loop's poll, the ring table.
Napi::Value attach(Napi::Env env, Ring* r, const Napi::CallbackInfo& info, size_t cqesArg, Napi::Function onComplete) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return errResult(env, EINVAL);
  r->env = env;
  r->closed = false;
  r->cqes = Napi::Reference<Napi::Float64Array>::New(info[cqesArg].As<Napi::Float64Array>(), 1);
  r->onComplete = Napi::Persistent(onComplete);
  r->async.emplace(env, "passfs:uring");
  uint32_t id = instanceData(env)->rings->add(r);
  int rc = 0;
  startPoll(r, loop, onReadable, &rc);
  if (rc < 0) {
    r->table->close(r);
    return errResult(env, -rc);
  }
  return Napi::Number::New(env, id);
}

// An unknown ring id is reported as -ENOENT (like devUnwatch).
Ring* findRing(Napi::Env env, uint32_t id) { return instanceData(env)->rings->find(id); }

// For the calls that take only a ring id: the ring, or nullptr with *fail
// set (a type error, or -ENOENT for an unknown id).
Ring* onlyRingArg(const Napi::CallbackInfo& info, Napi::Value* fail) {
  Args a(info);
  uint32_t id = a.u32(0);
  if (!a.ok()) {
    *fail = a.failure();
    return nullptr;
  }
  Ring* r = findRing(a.env(), id);
  if (r == nullptr) *fail = errResult(a.env(), ENOENT);
  return r;
}

Napi::Value uringCreate(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t entries = a.u32(0);
  bool sqe128 = a.flag(1);
  a.f64(2, 2);  // type check only: looked up again at every batch
  Napi::Function onComplete = a.func(3);
  uint32_t slot = a.u32(4);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();

  auto* r = new Ring();
  r->slot = slot;
  unsigned flags = (sqe128 ? IORING_SETUP_SQE128 : 0) | (slot == 0 ? IORING_SETUP_SINGLE_ISSUER : 0);
  int rc = io_uring_queue_init(entries, &r->ring, flags | kOptionalSetupFlags);
  if (rc == -EINVAL) rc = io_uring_queue_init(entries, &r->ring, flags & IORING_SETUP_SQE128);
  if (rc < 0) {
    delete r;
    return errResult(env, -rc);
  }
  r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  rc = r->efd < 0 ? -errno : io_uring_register_eventfd(&r->ring, r->efd);
  if (rc < 0) {
    io_uring_queue_exit(&r->ring);
    if (r->efd >= 0) ::close(r->efd);
    delete r;
    return errResult(env, -rc);
  }
  return attach(env, r, info, 2, onComplete);
}

// The ring a dead worker left in `slot`, now this thread's; -ENOENT if none.
Napi::Value uringAdopt(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t slot = a.u32(0);
  a.f64(1, 1);
  Napi::Function onComplete = a.func(2);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Ring* r = nullptr;
  {
    std::lock_guard<std::mutex> lock(gOrphansMutex);
    auto it = gOrphans.find(slot);
    if (it == gOrphans.end()) return errResult(env, ENOENT);
    r = it->second;
    gOrphans.erase(it);
  }
  Napi::Value id = attach(env, r, info, 1, onComplete);
  // CQEs posted since the orphaning may have signalled nobody.
  if (!r->closed && io_uring_cq_ready(&r->ring) > 0) eventfd_write(r->efd, 1);
  return id;
}

// The ring's arena for FUSE entry buffers, as an ArrayBuffer: allocated
// (zeroed, page aligned) at the first call, the same memory afterwards (the
// adopter's view); a different size is EINVAL. JS must not use the views
// after uringClose.
Napi::Value uringFuseArena(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  uint32_t bytes = a.u32(1);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  if (r->arena == nullptr) {
    void* mem = nullptr;
    if (bytes == 0 || posix_memalign(&mem, 4096, bytes) != 0) return errResult(env, ENOMEM);
    memset(mem, 0, bytes);
    r->arena = static_cast<uint8_t*>(mem);
    r->arenaSize = bytes;
  } else if (r->arenaSize != bytes) {
    return errResult(env, EINVAL);
  }
  return Napi::ArrayBuffer::New(env, r->arena, r->arenaSize);
}

// An adopter takes over a dead worker's entries (the state machine is this
// file's; JS only acts on what is left for it): a request the dead worker
// had started is answered ECONNABORTED (it may be half done), a reply it
// wrote is committed, both through `devFd` (the adopter's clone: the dead
// worker's is closed). Returns [aborted, userData, state, ...]: entries now
// `armed` were armed by the dead thread (the kernel cancels them), `delivered`
// ones hold a request to serve, `idle` ones must be registered again,
// `queued` ones are done with.
Napi::Value uringFuseTakeOver(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  int devFd = a.fd(1);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  double aborted = 0;
  for (auto& [userData, e] : r->fuseEntries) {
    if (e.state != EntryState::kHeld && e.state != EntryState::kReplyReady) continue;
    e.devFd = devFd;
    io_uring_sqe* sqe = io_uring_get_sqe(&r->ring);
    if (sqe == nullptr && submit(r) >= 0) sqe = io_uring_get_sqe(&r->ring);
    if (sqe == nullptr) return errResult(env, EBUSY);
    if (e.state == EntryState::kHeld) {
      prepAbortReply(sqe, userData, e);
      aborted++;
    } else {
      prepCommit(sqe, userData, e);
    }
    markQueued(r, e);
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, 1 + 2 * r->fuseEntries.size());
  size_t i = 0;
  out[i++] = aborted;
  for (auto& [userData, e] : r->fuseEntries) {
    out[i++] = static_cast<double>(userData);
    out[i++] = static_cast<double>(e.state);
  }
  return out;
}

// A free SQE of `r`, or nullptr with *err = EBUSY (the SQ is full until the
// next submit).
io_uring_sqe* nextSqe(Ring* r, int* err) {
  io_uring_sqe* sqe = io_uring_get_sqe(&r->ring);
  if (sqe == nullptr) *err = EBUSY;
  return sqe;
}

// For reads, writes, fsyncs and fallocates on ring `id` (ENOENT if unknown):
// counted until their CQE.
io_uring_sqe* getIoSqe(Napi::Env env, uint32_t id, int* err) {
  Ring* r = findRing(env, id);
  if (r == nullptr) {
    *err = ENOENT;
    return nullptr;
  }
  io_uring_sqe* sqe = nextSqe(r, err);
  if (sqe != nullptr) r->inflight++;
  return sqe;
}

Napi::Value prepRw(const Napi::CallbackInfo& info, bool write) {
  Args a(info);
  uint32_t id = a.u32(0);
  int fd = a.fd(1);
  Slice buf = a.slice(2);
  int64_t pos = a.i64(5);  // -1: the file's current position
  uint64_t userData = a.u64(6);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  if (buf.len > UINT32_MAX) return errResult(env, EINVAL);  // sqe->len is 32 bits
  int err = 0;
  io_uring_sqe* sqe = getIoSqe(env, id, &err);
  if (sqe == nullptr) return errResult(env, err);
  if (write) {
    io_uring_prep_write(sqe, fd, buf.data, static_cast<unsigned>(buf.len), static_cast<uint64_t>(pos));
  } else {
    io_uring_prep_read(sqe, fd, buf.data, static_cast<unsigned>(buf.len), static_cast<uint64_t>(pos));
  }
  io_uring_sqe_set_data64(sqe, userData);
  return Napi::Number::New(env, 0);
}

Napi::Value uringRead(const Napi::CallbackInfo& info) { return prepRw(info, false); }
Napi::Value uringWrite(const Napi::CallbackInfo& info) { return prepRw(info, true); }

Napi::Value uringFsync(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  int fd = a.fd(1);
  bool dataOnly = a.flag(2);
  uint64_t userData = a.u64(3);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  int err = 0;
  io_uring_sqe* sqe = getIoSqe(env, id, &err);
  if (sqe == nullptr) return errResult(env, err);
  io_uring_prep_fsync(sqe, fd, dataOnly ? IORING_FSYNC_DATASYNC : 0);
  io_uring_sqe_set_data64(sqe, userData);
  return Napi::Number::New(env, 0);
}

Napi::Value uringFallocate(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  int fd = a.fd(1);
  int mode = a.i32(2);
  int64_t offset = a.i64(3);
  int64_t len = a.i64(4);
  uint64_t userData = a.u64(5);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  int err = 0;
  io_uring_sqe* sqe = getIoSqe(env, id, &err);
  if (sqe == nullptr) return errResult(env, err);
  io_uring_prep_fallocate(sqe, fd, mode, offset, len);
  io_uring_sqe_set_data64(sqe, userData);
  return Napi::Number::New(env, 0);
}

// An IORING_OP_URING_CMD for /dev/fuse, with the command area filled in.
void prepFuseCmd(io_uring_sqe* sqe, int devFd, uint32_t cmdOp, const passfs_uring_cmd_req& req,
                 const void* addr, unsigned len, uint64_t userData) {
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, devFd, addr, len, 0);
  sqe->cmd_op = cmdOp;  // shares the word with sqe->off, so after prep
  sqe->__pad1 = 0;
  // The 80-byte command area (it overlaps addr3, which prep cleared).
  memset(sqe->cmd, 0, 80);
  memcpy(sqe->cmd, &req, sizeof req);
  io_uring_sqe_set_data64(sqe, userData);
}

void markQueued(Ring* r, FuseEntry& e) {
  e.state = EntryState::kQueued;
  r->queued.push_back(&e);
}

Napi::Value uringFuseRegister(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  int devFd = a.fd(1);
  uint32_t qid = a.u32(2);
  Slice header = a.bytes(3);
  Slice payload = a.bytes(4);
  uint64_t userData = a.u64(5);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  // The kernel rejects a short header too, but only in the CQE. The buffers
  // must be the ring's own memory: the kernel writes to them for as long as
  // the entry lives, which may be longer than this thread.
  if (qid > UINT16_MAX || header.len < sizeof(passfs_uring_req_header) || !r->inArena(header) ||
      !r->inArena(payload) || userData == kNopUserData) {
    return errResult(env, EINVAL);
  }
  // Writing the command area of a 64-byte SQE would overwrite the next one.
  if (!(r->ring.flags & IORING_SETUP_SQE128)) return errResult(env, EINVAL);
  int err = 0;
  io_uring_sqe* sqe = nextSqe(r, &err);
  if (sqe == nullptr) return errResult(env, err);
  PendingIov& p = r->pendingIov.emplace_back();
  p.seq = r->ring.sq.sqe_tail - 1;
  p.iov[0] = {header.data, header.len};
  p.iov[1] = {payload.data, payload.len};
  passfs_uring_cmd_req req = {};
  req.qid = static_cast<uint16_t>(qid);
  prepFuseCmd(sqe, devFd, FUSE_IO_URING_CMD_REGISTER, req, p.iov, FUSE_URING_IOV_SEGS, userData);
  FuseEntry& e = r->fuseEntries[userData];
  e.devFd = devFd;
  e.qid = static_cast<uint16_t>(qid);
  e.header = header.data;
  markQueued(r, e);
  return Napi::Number::New(env, 0);
}

Napi::Value uringFuseCommit(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  int devFd = a.fd(1);
  uint32_t qid = a.u32(2);
  uint64_t commitId = a.u64(3);
  uint64_t userData = a.u64(4);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  if (qid > UINT16_MAX) return errResult(env, EINVAL);
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  if (!(r->ring.flags & IORING_SETUP_SQE128)) return errResult(env, EINVAL);
  auto it = r->fuseEntries.find(userData);
  if (it == r->fuseEntries.end()) return errResult(env, EINVAL);
  int err = 0;
  io_uring_sqe* sqe = nextSqe(r, &err);
  if (sqe == nullptr) return errResult(env, err);
  passfs_uring_cmd_req req = {};
  req.commit_id = commitId;
  req.qid = static_cast<uint16_t>(qid);
  prepFuseCmd(sqe, devFd, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, req, nullptr, 0, userData);
  // The entry may now be answered from another ring (an adopter's).
  it->second.devFd = devFd;
  markQueued(r, it->second);
  return Napi::Number::New(env, 0);
}

Napi::Value uringSubmit(const Napi::CallbackInfo& info) {
  Napi::Value fail;
  Ring* r = onlyRingArg(info, &fail);
  if (r == nullptr) return fail;
  return Napi::Number::New(info.Env(), submit(r));  // count, or -errno from liburing
}

Napi::Value uringClose(const Napi::CallbackInfo& info) {
  Napi::Value fail;
  Ring* r = onlyRingArg(info, &fail);
  if (r == nullptr) return fail;
  r->table->close(r);
  return Napi::Number::New(info.Env(), 0);
}

// Every unsubmitted SQE (between the kernel's SQ head and our tail) becomes
// a NOP: a FUSE commit's reply stays in its entry's buffers (kReplyReady, for
// an adopter to send), a REGISTER never happened (kIdle), and a read or
// write must not start on a buffer that may be about to go away.
void neutralizeUnsubmitted(Ring* r) {
  io_uring_sq& sq = r->ring.sq;
  unsigned shift = (r->ring.flags & IORING_SETUP_SQE128) ? 1 : 0;
  unsigned head = io_uring_smp_load_acquire(sq.khead);
  for (unsigned i = head; i != sq.sqe_tail; ++i) {
    io_uring_sqe* sqe = &sq.sqes[(i & sq.ring_mask) << shift];
    if (sqe->opcode == IORING_OP_URING_CMD) {
      auto it = r->fuseEntries.find(sqe->user_data);
      if (it != r->fuseEntries.end()) {
        bool commit = sqe->cmd_op == FUSE_IO_URING_CMD_COMMIT_AND_FETCH;
        it->second.state = commit ? EntryState::kReplyReady : EntryState::kIdle;
        r->inflight++;  // the NOP's CQE
      }
    }
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, kNopUserData);
  }
}

// Stop everything this ring has in flight except FUSE entries: unsubmitted
// SQEs become NOPs, then completions are consumed (entries that get a
// request move to `delivered`) until no read, write or NOP is left, for at
// most kQuiesceMs. False if some are still running then.
bool quiesce(Ring* r, EntryState delivered) {
  neutralizeUnsubmitted(r);
  if (submit(r) < 0) return false;
  const uint64_t deadline = uv_hrtime() + uint64_t{kQuiesceMs} * 1000000;
  for (;;) {
    // Runs pending task work (deliveries are posted from it) and flushes an
    // overflowed CQ.
    io_uring_get_events(&r->ring);
    io_uring_cqe* cqe;
    unsigned head;
    unsigned n = 0;
    io_uring_for_each_cqe(&r->ring, head, cqe) {
      noteCompletion(r, cqe->user_data, cqe->res, delivered);
      ++n;
    }
    io_uring_cq_advance(&r->ring, n);
    if (r->inflight == 0) return true;
    uint64_t now = uv_hrtime();
    if (now >= deadline) return false;
    __kernel_timespec ts = {0, static_cast<long long>(std::min<uint64_t>(deadline - now, 100000000))};
    io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
  }
}

// The commit id of the request held in `e` (the kernel wrote it with the request).
uint64_t commitIdOf(const FuseEntry& e) {
  auto* h = reinterpret_cast<const passfs_uring_req_header*>(e.header);
  uint64_t commitId;
  memcpy(&commitId, &h->ring_ent_in_out.commit_id, sizeof commitId);
  return commitId;
}

// COMMIT_AND_FETCH of the reply already in `e`'s buffers.
void prepCommit(io_uring_sqe* sqe, uint64_t userData, FuseEntry& e) {
  passfs_uring_cmd_req req = {};
  req.commit_id = commitIdOf(e);
  req.qid = e.qid;
  prepFuseCmd(sqe, e.devFd, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, req, nullptr, 0, userData);
}

// The reply -ECONNABORTED for the request held in `e`, as COMMIT_AND_FETCH.
void prepAbortReply(io_uring_sqe* sqe, uint64_t userData, FuseEntry& e) {
  auto* h = reinterpret_cast<passfs_uring_req_header*>(e.header);
  struct {
    uint32_t len;
    int32_t error;
    uint64_t unique;
  } out = {16, -ECONNABORTED, commitIdOf(e)};
  static_assert(sizeof out == 16, "fuse_out_header is 16 bytes");
  memcpy(h->in_out, &out, sizeof out);
  uint32_t payloadSz = 0;
  memcpy(&h->ring_ent_in_out.payload_sz, &payloadSz, sizeof payloadSz);
  prepCommit(sqe, userData, e);
}

// Before a ring is destroyed (the connection is ending, or a dying thread's
// ring could not be kept): answer every request its entries hold, so that no
// application waits on an entry nobody will commit.
void answerHeldFuseRequests(Ring* r) {
  for (auto& [userData, e] : r->fuseEntries) {
    if (e.state != EntryState::kHeld && e.state != EntryState::kDelivered) continue;
    io_uring_sqe* sqe = io_uring_get_sqe(&r->ring);
    if (sqe == nullptr) {
      if (submit(r) < 0) return;
      sqe = io_uring_get_sqe(&r->ring);
      if (sqe == nullptr) return;
    }
    prepAbortReply(sqe, userData, e);
    e.state = EntryState::kArmed;
  }
  submit(r);
}

}  // namespace

void registerUring(Napi::Env env, Napi::Object exports) {
  // The table frees itself from its env cleanup hook.
  instanceData(env)->rings = new RingTable(env);
  exportFunction<uringCreate>(env, exports, "uringCreate");
  exportFunction<uringAdopt>(env, exports, "uringAdopt");
  exportFunction<uringFuseArena>(env, exports, "uringFuseArena");
  exportFunction<uringFuseTakeOver>(env, exports, "uringFuseTakeOver");
  exportFunction<uringRead>(env, exports, "uringRead");
  exportFunction<uringWrite>(env, exports, "uringWrite");
  exportFunction<uringFsync>(env, exports, "uringFsync");
  exportFunction<uringFallocate>(env, exports, "uringFallocate");
  exportFunction<uringFuseRegister>(env, exports, "uringFuseRegister");
  exportFunction<uringFuseCommit>(env, exports, "uringFuseCommit");
  exportFunction<uringSubmit>(env, exports, "uringSubmit");
  exportFunction<uringClose>(env, exports, "uringClose");
}

}  // namespace passfs
