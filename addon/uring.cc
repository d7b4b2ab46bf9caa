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
// RingTable until it is closed (uringClose or env teardown). Closing drops the
// JS references, unregisters the eventfd and tears the ring down at once,
// while the env is certainly alive, then hands the poll handle to uv_close;
// the close callback only closes the eventfd and frees plain memory.
//
// The kernel cancels what is still in flight when the ring goes away, but
// asynchronously: a read or write already running may still touch its buffer
// shortly after uringClose returns. (Cancelling a FUSE command only completes
// it; the kernel does not write the entry's buffers then.)
//
// FUSE entries: the kernel's ring exit only cancels entries waiting for a
// request. An entry whose request was delivered (its CQE reaped, or still in
// the CQ) waits for a COMMIT_AND_FETCH that a dead ring can never send, and
// the application's system call would hang forever. So the addon remembers
// every entry it registered (by user_data, keeping its buffers alive until
// teardown) and whether it is held by userspace; before a ring is torn down
// (uringClose or env teardown, where JS can no longer run) it answers every
// held request with -ECONNABORTED, in C++ (answerHeldFuseRequests).
// Unsubmitted SQEs that JS prepared are submitted then too if they are FUSE
// commits (their replies are complete) and turned into NOPs otherwise (their
// buffers may be about to go away).
//
// Limits, both in the kernel (6.18): the fetch a commit re-arms can only be
// withdrawn by the ring's exit, which cancels asynchronously, and a request
// dispatched to such an entry in between is left stuck (teardown narrows that
// window, see answerHeldFuseRequests, but cannot close it). And requests that
// arrive while a queue has no entry wait in the kernel's queue: registering
// new entries does not fetch them, only a commit on that queue does, so they
// move once some new request arrives on the queue.
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>

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
//  - SINGLE_ISSUER: only the creating thread submits, which is our model.
constexpr unsigned kOptionalSetupFlags =
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER;

// A REGISTER's {header, payload} iovec pair. The kernel reads it when it
// consumes the SQE, so it lives until the SQ head has moved past `seq`.
struct PendingIov {
  unsigned seq;  // position of the SQE in the SQ (liburing's sqe_tail)
  iovec iov[FUSE_URING_IOV_SEGS];
};

// A FUSE entry registered through this ring. The references keep the buffers
// the kernel writes to alive until the ring is torn down.
struct FuseEntry {
  int devFd;
  uint16_t qid;
  uint8_t* header;  // passfs_uring_req_header
  Napi::Reference<Napi::Uint8Array> headerRef;
  Napi::Reference<Napi::Uint8Array> payloadRef;
  bool held = false;  // a request was delivered and not yet committed
};

// Teardown keeps answering until no request has arrived for kQuietNs after
// the last answer (applications react to an error within microseconds, or a
// few milliseconds when that means starting a process), at most kMaxDrainNs.
constexpr uint64_t kQuietNs = 10'000'000;
constexpr uint64_t kMaxDrainNs = 250'000'000;

uint64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

struct Ring {
  uv_poll_t poll;
  RingTable* table;
  napi_env env;
  uint32_t id;
  int efd = -1;
  bool closed = false;
  io_uring ring;
  // std::deque: appending never moves the arrays already handed out.
  std::deque<PendingIov> pendingIov;
  // Keyed by the entry's user_data (its commits use the same one).
  std::unordered_map<uint64_t, FuseEntry> fuseEntries;
  Napi::Reference<Napi::Float64Array> cqes;
  Napi::FunctionReference onComplete;
  std::optional<Napi::AsyncContext> async;
};

void answerHeldFuseRequests(Ring* r);

// Outside the anonymous namespace so InstanceData can point to it.
class RingTable {
 public:
  explicit RingTable(napi_env env) { napi_add_env_cleanup_hook(env, onEnvCleanup, this); }

  uint32_t add(Ring* r) {
    do {
      r->id = nextId_++;
    } while (r->id == 0 || rings_.count(r->id) != 0);
    rings_.emplace(r->id, r);
    return r->id;
  }

  Ring* find(uint32_t id) const {
    auto it = rings_.find(id);
    return it == rings_.end() ? nullptr : it->second;
  }

  void close(Ring* r) {
    rings_.erase(r->id);
    r->closed = true;
    r->cqes.Reset();
    r->onComplete.Reset();
    r->async.reset();
    uv_poll_stop(&r->poll);
    // Cancellation CQEs must not signal an eventfd about to be closed.
    io_uring_unregister_eventfd(&r->ring);
    // Pure C++: may run from the env cleanup hook.
    answerHeldFuseRequests(r);
    io_uring_queue_exit(&r->ring);
    // Only now may the kernel no longer write to the entries' buffers.
    r->fuseEntries.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&r->poll), [](uv_handle_t* h) {
      auto* ring = static_cast<Ring*>(h->data);
      ::close(ring->efd);
      delete ring;
    });
  }

 private:
  // A terminated worker must not leave live uv handles on its loop nor live
  // rings, and the JS references must go before the env does. The hook owns
  // the table.
  static void onEnvCleanup(void* arg) {
    auto* table = static_cast<RingTable*>(arg);
    while (!table->rings_.empty()) table->close(table->rings_.begin()->second);
    delete table;
  }

  uint32_t nextId_ = 1;
  std::unordered_map<uint32_t, Ring*> rings_;
};

namespace {

// Track FUSE entries through their completions: res >= 0 means a request was
// delivered (the entry is held until committed); an error ends the command.
inline void noteCompletion(Ring* r, uint64_t userData, int32_t res) {
  if (r->fuseEntries.empty()) return;
  auto it = r->fuseEntries.find(userData);
  if (it != r->fuseEntries.end()) it->second.held = res >= 0;
}

// Drop the iovec pairs of REGISTER SQEs the kernel has consumed.
void releaseConsumedIov(Ring* r) {
  unsigned head = io_uring_smp_load_acquire(r->ring.sq.khead);
  while (!r->pendingIov.empty() && static_cast<int>(head - r->pendingIov.front().seq) > 0) {
    r->pendingIov.pop_front();
  }
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
      noteCompletion(r, batch[i]->user_data, batch[i]->res);
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

// An unknown ring id is reported as -ENOENT (like devUnwatch).
Ring* findRing(Napi::Env env, uint32_t id) { return instanceData(env)->rings->find(id); }

Napi::Value uringCreate(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t entries = a.u32(0);
  bool sqe128 = a.flag(1);
  a.f64(2, 2);  // type check only: looked up again at every batch
  Napi::Function onComplete = a.func(3);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return errResult(env, EINVAL);

  auto* r = new Ring();
  unsigned flags = sqe128 ? IORING_SETUP_SQE128 : 0;
  int rc = io_uring_queue_init(entries, &r->ring, flags | kOptionalSetupFlags);
  if (rc == -EINVAL) rc = io_uring_queue_init(entries, &r->ring, flags);
  if (rc < 0) {
    delete r;
    return errResult(env, -rc);
  }
  r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->efd < 0) {
    int err = errno;
    io_uring_queue_exit(&r->ring);
    delete r;
    return errResult(env, err);
  }
  rc = io_uring_register_eventfd(&r->ring, r->efd);
  if (rc >= 0) rc = uv_poll_init(loop, &r->poll, r->efd);
  if (rc < 0) {
    // Not yet registered with the loop.
    io_uring_queue_exit(&r->ring);
    ::close(r->efd);
    delete r;
    return errResult(env, -rc);
  }
  r->poll.data = r;
  r->table = instanceData(env)->rings;
  r->env = env;
  r->cqes = Napi::Reference<Napi::Float64Array>::New(info[2].As<Napi::Float64Array>(), 1);
  r->onComplete = Napi::Persistent(onComplete);
  r->async.emplace(env, "passfs:uring");
  uint32_t id = r->table->add(r);
  rc = uv_poll_start(&r->poll, UV_READABLE, onReadable);
  if (rc < 0) {
    r->table->close(r);
    return errResult(env, -rc);
  }
  return Napi::Number::New(env, id);
}

// A free SQE of ring `id`, or nullptr with *err set (ENOENT: no such ring,
// EBUSY: the SQ is full until the next submit).
io_uring_sqe* getSqe(Napi::Env env, uint32_t id, int* err) {
  Ring* r = findRing(env, id);
  if (r == nullptr) {
    *err = ENOENT;
    return nullptr;
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&r->ring);
  if (sqe == nullptr) *err = EBUSY;
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
  io_uring_sqe* sqe = getSqe(env, id, &err);
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
  io_uring_sqe* sqe = getSqe(env, id, &err);
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
  io_uring_sqe* sqe = getSqe(env, id, &err);
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
  // The kernel rejects a short header too, but only in the CQE.
  if (qid > UINT16_MAX || header.len < sizeof(passfs_uring_req_header)) {
    return errResult(env, EINVAL);
  }
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  // Writing the command area of a 64-byte SQE would overwrite the next one.
  if (!(r->ring.flags & IORING_SETUP_SQE128)) return errResult(env, EINVAL);
  int err = 0;
  io_uring_sqe* sqe = getSqe(env, id, &err);
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
  e.headerRef = Napi::Reference<Napi::Uint8Array>::New(info[3].As<Napi::Uint8Array>(), 1);
  e.payloadRef = Napi::Reference<Napi::Uint8Array>::New(info[4].As<Napi::Uint8Array>(), 1);
  e.held = false;
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
  int err = 0;
  io_uring_sqe* sqe = getSqe(env, id, &err);
  if (sqe == nullptr) return errResult(env, err);
  passfs_uring_cmd_req req = {};
  req.commit_id = commitId;
  req.qid = static_cast<uint16_t>(qid);
  prepFuseCmd(sqe, devFd, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, req, nullptr, 0, userData);
  // The reply is in the SQ: it goes out with the next submit, at the latest
  // when the ring is torn down.
  auto it = r->fuseEntries.find(userData);
  if (it != r->fuseEntries.end()) it->second.held = false;
  return Napi::Number::New(env, 0);
}

Napi::Value uringSubmit(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  int rc = io_uring_submit(&r->ring);
  releaseConsumedIov(r);
  return Napi::Number::New(env, rc);  // count, or -errno from liburing
}

Napi::Value uringClose(const Napi::CallbackInfo& info) {
  Args a(info);
  uint32_t id = a.u32(0);
  if (!a.ok()) return a.failure();
  Napi::Env env = a.env();
  Ring* r = findRing(env, id);
  if (r == nullptr) return errResult(env, ENOENT);
  r->table->close(r);
  return Napi::Number::New(env, 0);
}

// Every unsubmitted SQE (between the kernel's SQ head and our tail) that is
// not a FUSE commit becomes a NOP with the same user_data.
void neutralizeUnsubmitted(Ring* r) {
  io_uring_sq& sq = r->ring.sq;
  unsigned shift = (r->ring.flags & IORING_SETUP_SQE128) ? 1 : 0;
  unsigned head = io_uring_smp_load_acquire(sq.khead);
  for (unsigned i = head; i != sq.sqe_tail; ++i) {
    io_uring_sqe* sqe = &sq.sqes[(i & sq.ring_mask) << shift];
    if (sqe->opcode == IORING_OP_URING_CMD && sqe->cmd_op == FUSE_IO_URING_CMD_COMMIT_AND_FETCH) continue;
    uint64_t userData = sqe->user_data;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, userData);
  }
}

// Consume every CQE, updating the held flags (JS will never see them).
void collect(Ring* r) {
  // Runs pending task work (deliveries are posted from it) and flushes an
  // overflowed CQ.
  io_uring_get_events(&r->ring);
  io_uring_cqe* cqe;
  unsigned head;
  unsigned n = 0;
  io_uring_for_each_cqe(&r->ring, head, cqe) {
    noteCompletion(r, cqe->user_data, cqe->res);
    ++n;
  }
  io_uring_cq_advance(&r->ring, n);
}

// The reply -ECONNABORTED for the request held in `e`, as COMMIT_AND_FETCH.
void prepAbortReply(io_uring_sqe* sqe, uint64_t userData, FuseEntry& e) {
  auto* h = reinterpret_cast<passfs_uring_req_header*>(e.header);
  uint64_t commitId;
  memcpy(&commitId, &h->ring_ent_in_out.commit_id, sizeof commitId);
  struct {
    uint32_t len;
    int32_t error;
    uint64_t unique;
  } out = {16, -ECONNABORTED, commitId};
  static_assert(sizeof out == 16, "fuse_out_header is 16 bytes");
  memcpy(h->in_out, &out, sizeof out);
  uint32_t payloadSz = 0;
  memcpy(&h->ring_ent_in_out.payload_sz, &payloadSz, sizeof payloadSz);
  passfs_uring_cmd_req req = {};
  req.commit_id = commitId;
  req.qid = e.qid;
  prepFuseCmd(sqe, e.devFd, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, req, nullptr, 0, userData);
}

}  // namespace

// Answer every request held by an entry of `r` (see the top of this file).
// The COMMIT_AND_FETCH is handled inline when submitted: the application gets
// its error then, and the fetch it re-arms is cancelled by the ring's exit.
//
// An application usually reacts to the error at once with its next request,
// and on the same queue it lands on an entry just re-armed (the kernel hands
// out the most recently re-armed entry first). If that happened between the
// last look at the CQ and the kernel's cancellation of the fetches, the
// request would be stuck for good. So after answering, keep watching until
// nothing has arrived for kQuietNs, answering whatever does; bounded by
// kMaxDrainNs in all.
void answerHeldFuseRequests(Ring* r) {
  if (r->fuseEntries.empty()) return;
  neutralizeUnsubmitted(r);
  const uint64_t begin = monotonicNs();
  uint64_t lastAnswer = 0;
  bool answered = false;
  for (;;) {
    collect(r);
    for (auto& [userData, e] : r->fuseEntries) {
      if (!e.held) continue;
      io_uring_sqe* sqe = io_uring_get_sqe(&r->ring);
      if (sqe == nullptr) {
        // SQ full: send what is prepared and go on.
        if (io_uring_submit(&r->ring) < 0) break;
        sqe = io_uring_get_sqe(&r->ring);
        if (sqe == nullptr) break;
      }
      prepAbortReply(sqe, userData, e);
      e.held = false;
    }
    // JS commits (first round only) go out with ours.
    if (io_uring_sq_ready(&r->ring) > 0) {
      if (io_uring_submit(&r->ring) < 0) return;
      lastAnswer = monotonicNs();
      answered = true;
    }
    if (!answered) return;  // nothing was answered: nobody is reacting
    uint64_t now = monotonicNs();
    uint64_t until = std::min(lastAnswer + kQuietNs, begin + kMaxDrainNs);
    if (now >= until) return;
    // Sleep until a completion arrives or the quiet period ends.
    __kernel_timespec ts = {static_cast<long long>((until - now) / 1000000000),
                            static_cast<long long>((until - now) % 1000000000)};
    io_uring_cqe* cqe;
    io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
  }
}

void registerUring(Napi::Env env, Napi::Object exports) {
  // The table frees itself from its env cleanup hook.
  instanceData(env)->rings = new RingTable(env);
  exportFunction<uringCreate>(env, exports, "uringCreate");
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
