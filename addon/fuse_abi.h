// The parts of the FUSE kernel ABI the addon itself touches, defined here
// because the distribution's <linux/fuse.h> predates them: the backing-file
// (passthrough) ioctls and the FUSE-over-io_uring command structures. Layouts
// and values follow the kernel ABI; the request/reply formats themselves are
// handled in TypeScript.
#pragma once

#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace passfs {

// Argument of FUSE_DEV_IOC_BACKING_OPEN: the fd to register as a backing file.
struct passfs_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(passfs_backing_map) == 16, "FUSE backing map ABI is 16 bytes");

constexpr unsigned FUSE_DEV_IOC_MAGIC = 229;
constexpr unsigned long FUSE_DEV_IOC_CLONE = _IOR(FUSE_DEV_IOC_MAGIC, 0, uint32_t);
constexpr unsigned long FUSE_DEV_IOC_BACKING_OPEN =
    _IOW(FUSE_DEV_IOC_MAGIC, 1, struct passfs_backing_map);
constexpr unsigned long FUSE_DEV_IOC_BACKING_CLOSE = _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t);

// ---- FUSE over io_uring (protocol 7.42) ----------------------------------
// Each command is an IORING_OP_URING_CMD on the /dev/fuse fd, in a ring
// created with IORING_SETUP_SQE128; sqe->cmd_op selects the command and the
// SQE's 80-byte command area holds a passfs_uring_cmd_req.
constexpr uint32_t FUSE_IO_URING_CMD_REGISTER = 1;
constexpr uint32_t FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2;

// The command area of the SQE.
struct passfs_uring_cmd_req {
  uint64_t flags;
  uint64_t commit_id;  // COMMIT_AND_FETCH: the request's unique id
  uint16_t qid;        // queue = CPU number
  uint8_t padding[6];
};
static_assert(sizeof(passfs_uring_cmd_req) == 24, "fuse_uring_cmd_req ABI is 24 bytes");

// Per-entry ring metadata, at the end of the header buffer.
struct passfs_uring_ent_in_out {
  uint64_t flags;
  uint64_t commit_id;   // set by the kernel with each request
  uint32_t payload_sz;  // bytes used in the payload buffer (both directions)
  uint32_t padding;
  uint64_t reserved;
};
static_assert(sizeof(passfs_uring_ent_in_out) == 32, "fuse_uring_ent_in_out ABI is 32 bytes");

// The header buffer of an entry (first iovec of REGISTER).
struct passfs_uring_req_header {
  uint8_t in_out[128];  // fuse_in_header of the request / fuse_out_header of the reply
  uint8_t op_in[128];   // the opcode's fixed-size argument
  passfs_uring_ent_in_out ring_ent_in_out;
};
static_assert(sizeof(passfs_uring_req_header) == 288, "fuse_uring_req_header ABI is 288 bytes");
static_assert(offsetof(passfs_uring_req_header, ring_ent_in_out) == 256, "ent_in_out at 256");

// REGISTER: sqe->addr points to this many iovecs {header, payload}.
constexpr unsigned FUSE_URING_IOV_SEGS = 2;

}  // namespace passfs
