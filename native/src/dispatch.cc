#include "dispatch.h"

vm_cpu_tier vm_cpu_select_tier(const vm_cpu_features & f) {
    // AMX also needs AVX-512 for the surrounding quantize/requantize code.
    if (f.amx_int8 && f.amx_usable && f.avx512bw && f.avx512vl) {
        return VM_CPU_TIER_AMX;
    }
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) {
        return VM_CPU_TIER_AVX512_VNNI;
    }
    if (f.avx512f && f.avx512bw && f.avx512vl) {
        return VM_CPU_TIER_AVX512;
    }
    if (f.avx2 && f.fma) {
        return VM_CPU_TIER_AVX2;
    }
    return VM_CPU_TIER_BASELINE;
}

const char * vm_cpu_tier_name(vm_cpu_tier tier) {
    switch (tier) {
        case VM_CPU_TIER_BASELINE:    return "baseline";
        case VM_CPU_TIER_AVX2:        return "avx2";
        case VM_CPU_TIER_AVX512:      return "avx512";
        case VM_CPU_TIER_AVX512_VNNI: return "avx512vnni";
        case VM_CPU_TIER_AMX:         return "amx";
    }
    return "unknown";
}
