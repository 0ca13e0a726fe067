// vm_cuda_emu: runs the CUDA runner (native/cuda/engine_cuda.cu, kernels and
// host code as they are) on the host emulation of cuda_emu.h, driven by a job
// file that test/cuda-engine.test.ts writes: a shard's weights and a list of
// forward / endSession / sessionLength calls. The answers go to an output file
// the test compares with the TypeScript ReferenceShard.
//
//   vm_cuda_emu JOB OUT        exit 0: OUT written; 2: bad job; 4: runner refused
//
// Job and output are little-endian; see read_job / main for the layout (the
// writer and reader are in the test).

#define VM_CUDA_EMU 1
#include "../engine_cuda.cu"

#include <fstream>
#include <iterator>

// The coroutine switch of cuda_emu.h: saves the callee-saved registers on the
// current stack, stores the stack pointer, loads the other one, restores.
asm(R"(
    .text
    .globl vm_emu_switch
    .type vm_emu_switch, @function
vm_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size vm_emu_switch, .-vm_emu_switch
)");

namespace {

struct BadJob : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Reader {
public:
    explicit Reader(std::vector<char> b) : buf_(std::move(b)) {}

    uint32_t u32() {
        need(4);
        uint32_t v;
        std::memcpy(&v, buf_.data() + at_, 4);
        at_ += 4;
        return v;
    }
    int32_t i32() { return (int32_t) u32(); }
    int64_t i64() {
        const uint64_t lo = u32();
        const uint64_t hi = u32();
        return (int64_t) (lo | (hi << 32));
    }
    template <class T>
    std::vector<T> arr() {
        const size_t n = u32();
        const size_t bytes = n * sizeof(T);
        need(bytes);
        std::vector<T> v(n);
        if (bytes != 0) {
            std::memcpy(v.data(), buf_.data() + at_, bytes);
        }
        at_ += (bytes + 3) & ~(size_t) 3;
        return v;
    }
    std::string str() {
        const std::vector<char> c = arr<char>();
        return std::string(c.begin(), c.end());
    }
    bool end() const { return at_ == buf_.size(); }

private:
    void need(size_t n) const {
        if (at_ + n > buf_.size()) {
            throw BadJob("job file ends early");
        }
    }
    std::vector<char> buf_;
    size_t at_ = 0;
};

class Writer {
public:
    void u32(uint32_t v) { put(&v, 4); }
    void i32(int32_t v) { put(&v, 4); }
    template <class T>
    void arr(const T * p, size_t n) {
        u32((uint32_t) n);
        put(p, n * sizeof(T));
        static const char zero[4] = {0, 0, 0, 0};
        put(zero, ((n * sizeof(T) + 3) & ~(size_t) 3) - n * sizeof(T));
    }
    void str(const std::string & s) { arr(s.data(), s.size()); }
    const std::string & data() const { return out_; }

private:
    void put(const void * p, size_t n) { out_.append(static_cast<const char *>(p), n); }
    std::string out_;
};

// Owns the arrays a ShardDesc points into.
struct Job {
    vm_engine::ShardDesc desc;
    std::vector<std::vector<int8_t>> i8;
    std::vector<std::vector<int32_t>> i32;

    const int8_t * keep8(std::vector<int8_t> v, size_t * len) {
        *len = v.size();
        i8.push_back(std::move(v));
        return i8.back().data();
    }
    const int32_t * keep32(std::vector<int32_t> v, size_t * len) {
        *len = v.size();
        i32.push_back(std::move(v));
        return i32.back().data();
    }
    vm_engine::QLinearDesc linear(Reader & r) {
        vm_engine::QLinearDesc l;
        l.rows = r.i32();
        l.cols = r.i32();
        l.q = keep8(r.arr<int8_t>(), &l.q_len);
        l.scales = keep32(r.arr<int32_t>(), &l.scales_len);
        const bool bias = r.i32() != 0;
        std::vector<int32_t> b = r.arr<int32_t>();
        if (bias) {
            l.bias = keep32(std::move(b), &l.bias_len);
        }
        return l;
    }
};

void read_shard(Reader & r, Job & j) {
    if (r.u32() != 0x4A454D56u) {
        throw BadJob("not a vm_cuda_emu job");
    }
    vm_engine::ShardDesc & d = j.desc;
    d.dims.vocab = r.i32();
    d.dims.dim = r.i32();
    d.dims.layers = r.i32();
    d.dims.heads = r.i32();
    d.dims.kv_heads = r.i32();
    d.dims.head_dim = r.i32();
    d.dims.ffn = r.i32();
    d.dims.context = r.i32();
    d.rope_style = r.i32() == 1 ? vm_engine::RopeStyle::Halves : vm_engine::RopeStyle::Adjacent;
    d.eps_q32 = r.i64();
    d.attn_scale_m = r.i32();
    d.attn_scale_x = r.i32();
    d.range_start = r.i32();
    d.range_end = r.i32();
    d.rope = j.keep32(r.arr<int32_t>(), &d.rope_len);
    if (r.i32() != 0) {
        d.emb_q = j.keep8(r.arr<int8_t>(), &d.emb_q_len);
        d.emb_scales = j.keep32(r.arr<int32_t>(), &d.emb_scales_len);
    }
    const int nl = d.range_end - d.range_start;
    if (nl < 0 || nl > 4096) {
        throw BadJob("bad layer range");
    }
    // Reserve first: the descriptors point into j.i8 / j.i32, which must not reallocate.
    j.i8.reserve(16 + 8 * (size_t) nl);
    j.i32.reserve(16 + 20 * (size_t) nl);
    for (int l = 0; l < nl; ++l) {
        vm_engine::LayerDesc L;
        L.attn_norm = j.keep32(r.arr<int32_t>(), &L.attn_norm_len);
        L.wq = j.linear(r);
        L.wk = j.linear(r);
        L.wv = j.linear(r);
        L.wo = j.linear(r);
        L.ffn_norm = j.keep32(r.arr<int32_t>(), &L.ffn_norm_len);
        L.w_gate = j.linear(r);
        L.w_up = j.linear(r);
        L.w_down = j.linear(r);
        d.layers.push_back(L);
    }
    if (r.i32() != 0) {
        d.output_norm = j.keep32(r.arr<int32_t>(), &d.output_norm_len);
        d.output = j.linear(r);
    }
}

} // namespace

int main(int argc, char ** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s JOB OUT\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    Reader r(std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    Job job;
    Writer w;
    try {
        read_shard(r, job);
        std::string why;
        std::unique_ptr<vm_engine::ShardRunner> runner;
        try {
            runner = vm_engine::make_cuda_runner(job.desc, 0, &why);
        } catch (const vm_engine::EngineError & e) {
            why = e.what();
        }
        if (!runner) {
            std::fprintf(stderr, "make_cuda_runner refused: %s\n", why.c_str());
            return 4;
        }
        w.u32(0x4F454D56u);
        w.str(runner->kernel_name());
        const vm_engine::ShardInfo & si = runner->info();
        const int D = si.dims.dim;
        const uint32_t nops = r.u32();
        for (uint32_t k = 0; k < nops; ++k) {
            const int type = r.i32();
            const std::string session = r.str();
            if (type == 1) {
                const int pos = r.i32();
                const int kind = r.i32();
                const int n = r.i32();
                std::vector<int32_t> tok;
                std::vector<int8_t> q;
                std::vector<int32_t> sc;
                if (kind == 0) {
                    tok = r.arr<int32_t>();
                } else {
                    q = r.arr<int8_t>();
                    sc = r.arr<int32_t>();
                }
                // The caller sizes the inputs; a short array here would be the test's bug.
                if ((kind == 0 && (int) tok.size() != n) ||
                    (kind != 0 && (q.size() != (size_t) n * D || sc.size() != (size_t) n * (D / 32)))) {
                    throw BadJob("forward input does not match n");
                }
                std::vector<int8_t> oq((size_t) n * D);
                std::vector<int32_t> os((size_t) n * (D / 32));
                std::vector<int32_t> logits(si.has_output ? (size_t) si.dims.vocab : 0);
                try {
                    runner->forward(session, pos, n, kind == 0 ? tok.data() : nullptr,
                                    kind == 0 ? nullptr : q.data(), kind == 0 ? nullptr : sc.data(),
                                    oq.data(), os.data(), si.has_output ? logits.data() : nullptr);
                    w.i32(0);
                    w.arr(oq.data(), oq.size());
                    w.arr(os.data(), os.size());
                    w.i32(si.has_output ? 1 : 0);
                    w.arr(logits.data(), logits.size());
                } catch (const vm_engine::EngineError & e) {
                    w.i32(1);
                    w.str(e.what());
                }
                w.i32(runner->session_length(session));
            } else if (type == 2) {
                runner->end_session(session);
                w.i32(0);
                w.i32(runner->session_length(session));
            } else if (type == 3) {
                w.i32(0);
                w.i32(runner->session_length(session));
            } else {
                throw BadJob("unknown op " + std::to_string(type));
            }
        }
        if (!r.end()) {
            throw BadJob("trailing bytes in the job");
        }
    } catch (const BadJob & e) {
        std::fprintf(stderr, "bad job: %s\n", e.what());
        return 2;
    }
    std::ofstream out(argv[2], std::ios::binary);
    out.write(w.data().data(), (std::streamsize) w.data().size());
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 2;
    }
    return 0;
}
