#include "cpu_features.h"

#include <cerrno>
#include <cstring>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#define VM_X86 1
#include <cpuid.h>
#endif

#if defined(VM_X86) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#ifdef VM_X86

namespace {

struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };

cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf) {
    cpuid_regs r = {0, 0, 0, 0};
    __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
    return r;
}

// xgetbv via inline asm rather than _xgetbv(): the intrinsic needs -mxsave,
// which the x86-64-v2 baseline does not include. Only call when OSXSAVE is set,
// otherwise the instruction itself faults.
uint64_t xgetbv0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t) hi << 32) | lo;
}

inline bool bit(uint32_t reg, int n) { return (reg >> n) & 1u; }

// XCR0 state components (Intel SDM vol. 1, 13.1)
constexpr uint64_t XCR0_SSE       = 1ull << 1;
constexpr uint64_t XCR0_AVX       = 1ull << 2;
constexpr uint64_t XCR0_OPMASK    = 1ull << 5;
constexpr uint64_t XCR0_ZMM_HI256 = 1ull << 6;
constexpr uint64_t XCR0_HI16_ZMM  = 1ull << 7;
constexpr uint64_t XCR0_XTILECFG  = 1ull << 17;
constexpr uint64_t XCR0_XTILEDATA = 1ull << 18;

void request_amx_permission(vm_cpu_features & f, bool cpu_has_amx) {
    if (!cpu_has_amx) {
        f.amx_reason = "CPU has no AMX";
        return;
    }
    if (!f.amx_tile) {
        f.amx_reason = "CPU has AMX but the OS has not enabled tile state in XCR0";
        return;
    }
#if defined(__linux__)
    // Linux keeps XTILEDATA (8 KiB of state) disabled per process via XFD until
    // the process asks for it. The request is process-wide and idempotent.
    constexpr int ARCH_GET_XCOMP_PERM = 0x1022;
    constexpr int ARCH_REQ_XCOMP_PERM = 0x1023;
    constexpr int XFEATURE_XTILEDATA  = 18;

    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        const int err = errno;
        f.amx_reason = std::string("arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) failed: ") + strerror(err);
        if (err == EINVAL) {
            f.amx_reason += " (kernel older than 5.16?)";
        }
        return;
    }
    // Trust but verify: the grant is what the kernel reports back, not the return code.
    unsigned long perm = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0) {
        f.amx_reason = std::string("arch_prctl(ARCH_GET_XCOMP_PERM) failed: ") + strerror(errno);
        return;
    }
    if (!(perm & (1ul << XFEATURE_XTILEDATA))) {
        f.amx_reason = "kernel did not grant XTILEDATA permission";
        return;
    }
    f.amx_usable = true;
#else
    f.amx_reason = "AMX permission request is only implemented for Linux";
#endif
}

vm_cpu_features detect() {
    vm_cpu_features f = {};
    f.logical_cores = std::thread::hardware_concurrency();

    const cpuid_regs l0 = cpuid(0, 0);
    const uint32_t max_leaf = l0.eax;
    char vendor[13];
    memcpy(vendor + 0, &l0.ebx, 4);
    memcpy(vendor + 4, &l0.edx, 4);
    memcpy(vendor + 8, &l0.ecx, 4);
    vendor[12] = '\0';
    f.vendor = vendor;

    const uint32_t max_ext = cpuid(0x80000000u, 0).eax;
    if (max_ext >= 0x80000004u) {
        char brand[49];
        for (uint32_t i = 0; i < 3; ++i) {
            const cpuid_regs r = cpuid(0x80000002u + i, 0);
            memcpy(brand + 16*i + 0,  &r.eax, 4);
            memcpy(brand + 16*i + 4,  &r.ebx, 4);
            memcpy(brand + 16*i + 8,  &r.ecx, 4);
            memcpy(brand + 16*i + 12, &r.edx, 4);
        }
        brand[48] = '\0';
        std::string b = brand;
        const size_t first = b.find_first_not_of(' ');
        const size_t last  = b.find_last_not_of(' ');
        f.brand = first == std::string::npos ? "" : b.substr(first, last - first + 1);
    }

    if (max_leaf < 1) {
        f.amx_reason = "CPUID leaf 1 unavailable";
        return f;
    }
    const cpuid_regs l1 = cpuid(1, 0);
    const bool osxsave = bit(l1.ecx, 27);
    const bool cpu_avx = bit(l1.ecx, 28);

    f.xcr0      = osxsave ? xgetbv0() : 0;
    f.os_avx    = (f.xcr0 & (XCR0_SSE | XCR0_AVX)) == (XCR0_SSE | XCR0_AVX);
    f.os_avx512 = f.os_avx && (f.xcr0 & (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)) ==
                              (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM);
    f.os_amx    = (f.xcr0 & (XCR0_XTILECFG | XCR0_XTILEDATA)) == (XCR0_XTILECFG | XCR0_XTILEDATA);

    f.sse42 = bit(l1.ecx, 20);
    f.fma   = f.os_avx && cpu_avx && bit(l1.ecx, 12);

    cpuid_regs l7 = {0, 0, 0, 0};
    cpuid_regs l7s1 = {0, 0, 0, 0};
    if (max_leaf >= 7) {
        l7 = cpuid(7, 0);
        if (l7.eax >= 1) {          // EAX of subleaf 0 = highest valid subleaf
            l7s1 = cpuid(7, 1);
        }
    }

    f.avx2       = f.os_avx && cpu_avx && bit(l7.ebx, 5);
    f.avxvnni    = f.os_avx && cpu_avx && bit(l7s1.eax, 4);

    f.avx512f    = f.os_avx512 && bit(l7.ebx, 16);
    f.avx512bw   = f.avx512f && bit(l7.ebx, 30);
    f.avx512vl   = f.avx512f && bit(l7.ebx, 31);
    f.avx512vnni = f.avx512f && bit(l7.ecx, 11);

    f.amx_tile   = f.os_amx && bit(l7.edx, 24);
    f.amx_int8   = f.amx_tile && bit(l7.edx, 25);
    f.amx_bf16   = f.amx_tile && bit(l7.edx, 22);

    request_amx_permission(f, bit(l7.edx, 24));
    return f;
}

} // namespace

#else // !VM_X86

namespace {
vm_cpu_features detect() {
    vm_cpu_features f = {};
    f.vendor        = "unknown";
    f.logical_cores = std::thread::hardware_concurrency();
    f.amx_reason    = "not an x86 CPU";
    return f;
}
} // namespace

#endif

const vm_cpu_features & vm_cpu_get_features() {
    // Function-local static: initialised exactly once even when several
    // worker threads load the addon at the same time.
    static const vm_cpu_features features = detect();
    return features;
}
