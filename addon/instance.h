// Per-env instance data. Node-API gives an addon a single instance-data slot
// per env (main thread or worker), so every per-thread table hangs off this
// one struct. main.cc creates it before any register* function runs; each
// table is created by its source file's register function and frees itself
// from its own env cleanup hook (the struct only holds the pointers).
#pragma once

#include <napi.h>

namespace passfs {

class WatchTable;  // devwatch.cc
class RingTable;   // uring.cc

struct InstanceData {
  WatchTable* watches = nullptr;
  RingTable* rings = nullptr;
};

inline InstanceData* instanceData(Napi::Env env) { return env.GetInstanceData<InstanceData>(); }

}  // namespace passfs
