#pragma once

// Kernel dispatch: the addon is compiled for the portable x86-64-v2 baseline
// (never -march=native, which SIGILLs on older hosts); faster kernels live in
// functions built with __attribute__((target("..."))) and are chosen here, once,
// from the features the CPU *and* OS actually allow (see cpu_features.h).
//
// Tiers are ordered: a host at tier N can run every kernel of tiers <= N.
// The int8 engine will register one implementation per tier it has and call
// vm_cpu_select_tier() to pick the highest one available.

#include "cpu_features.h"

enum vm_cpu_tier {
    VM_CPU_TIER_BASELINE     = 0, // x86-64-v2: SSE4.2, POPCNT (build baseline)
    VM_CPU_TIER_AVX2         = 1, // AVX2 + FMA
    VM_CPU_TIER_AVX512       = 2, // AVX-512 F/BW/VL
    VM_CPU_TIER_AVX512_VNNI  = 3, // + VNNI: vpdpbusd int8 dot products
    VM_CPU_TIER_AMX          = 4, // AMX-INT8 tiles, permission granted
};

vm_cpu_tier  vm_cpu_select_tier(const vm_cpu_features & f);
const char * vm_cpu_tier_name(vm_cpu_tier tier);
