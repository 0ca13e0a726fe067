#pragma once

// CPU feature detection for the kernel dispatch layer.
//
// Every flag here means "usable by this process", not "present in silicon":
// the CPUID bit must be set AND the OS must save/restore the matching register
// state (XCR0, read with xgetbv). A CPU can implement AVX-512 while the kernel
// (or a hypervisor) leaves ZMM state disabled; executing an AVX-512 instruction
// then raises #UD. Compiler builtins alone do not cover AMX, which on Linux
// additionally needs a per-process permission (arch_prctl), so we do it by hand.

#include <cstdint>
#include <string>

struct vm_cpu_features {
    std::string vendor;          // CPUID leaf 0, e.g. "GenuineIntel", "AuthenticAMD"
    std::string brand;           // CPUID leaves 0x80000002..4, trimmed
    unsigned    logical_cores;   // std::thread::hardware_concurrency()

    bool sse42;
    bool avx2;
    bool fma;
    bool avx512f;
    bool avx512bw;
    bool avx512vl;
    bool avx512vnni;
    bool avxvnni;                // VEX-encoded VNNI (Alder Lake / Sapphire Rapids and later)
    bool amx_tile;
    bool amx_int8;
    bool amx_bf16;

    // Register state the OS has enabled in XCR0 (the reason a flag above may be off).
    bool     os_avx;             // XMM + YMM
    bool     os_avx512;          // opmask + ZMM_Hi256 + Hi16_ZMM
    bool     os_amx;             // XTILECFG + XTILEDATA
    uint64_t xcr0;

    // AMX tile data may be touched by this process: the kernel granted
    // ARCH_REQ_XCOMP_PERM for XTILEDATA (Linux >= 5.16). Without it the first
    // tile instruction kills the process with SIGILL.
    bool        amx_usable;
    std::string amx_reason;      // why amx_usable is false; empty when usable
};

// Detected once per process (thread-safe); also requests AMX permission once.
const vm_cpu_features & vm_cpu_get_features();
