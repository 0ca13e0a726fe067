#pragma once

// Fixed-base scalar multiplication on G1 / G2: k·G = Σ_j T[j][k_j] with
// T[j][d] = d·2^(w·j)·G and k_j the j-th w-bit digit of k: one mixed addition
// per non-zero digit, no doublings. Used by the development setup (millions of
// multiples of the generators) and the verifier (vk_x from a key's cached IC
// tables). Tables are built on the engine's thread pool when threads > 1.

#include <algorithm>
#include <atomic>
#include <vector>

#include "../engine/thread_pool.h"
#include "curve.h"

namespace vm_zk {


template <class F>
class FixedBase {
public:
    FixedBase(const Affine<F> & g, unsigned w, int threads) : w_(w), nwin_((254 + w - 1) / w), per_(((size_t) 1 << w) - 1) {
        table_.resize(nwin_ * per_);
        std::vector<Affine<F>> bases(nwin_);
        {
            std::vector<Jacobian<F>> jb(nwin_);
            Jacobian<F> b = Jacobian<F>::from_affine(g);
            for (unsigned j = 0; j < nwin_; ++j) {
                jb[j] = b;
                for (unsigned s = 0; s < w; ++s) b = b.dbl();
            }
            batch_to_affine(jb.data(), nwin_, bases.data());
        }
        std::atomic<unsigned> next{0};
        auto work = [&](int, int) {
            std::vector<Jacobian<F>> row(per_);
            for (unsigned j; (j = next.fetch_add(1)) < nwin_;) {
                Jacobian<F> cur = Jacobian<F>::from_affine(bases[j]);
                for (size_t d = 0; d < per_; ++d) {
                    row[d] = cur;
                    cur = cur.add_mixed(bases[j]);
                }
                batch_to_affine(row.data(), per_, &table_[j * per_]);
            }
        };
        if (threads > 1) vm_engine::cpu_pool().run(threads, work); else work(0, 1);
    }

    // The j-th w-bit digit of k.
    u64 digit(const U256 & k, unsigned j) const {
        const unsigned bit = w_ * j, limb = bit >> 6, off = bit & 63;
        u64 d = k.v[limb] >> off;
        if (off + w_ > 64 && limb < 3) d |= k.v[limb + 1] << (64 - off);
        return d & (u64) per_;
    }

    Jacobian<F> mul(const U256 & k) const {
        Jacobian<F> acc = Jacobian<F>::infinity();
        for (unsigned j = 0; j < nwin_; ++j) {
            const u64 d = digit(k, j);
            if (d) acc = acc.add_mixed(table_[j * per_ + d - 1]);
        }
        return acc;
    }

    // out[i] = scalars[i]·G (scalars in Montgomery form), in parallel chunks.
    // A chunk's accumulators stay affine and advance one window at a time with
    // affine additions whose denominators share one inversion (Montgomery's
    // trick): about 6 multiplications per addition instead of a mixed
    // addition's 11, and no conversion at the end.
    void mul_many(const std::vector<Fr> & scalars, Affine<F> * out, int threads, std::atomic<size_t> * done) const {
        const size_t n = scalars.size(), chunk = 1024;
        std::atomic<size_t> next{0};
        auto work = [&](int, int) {
            std::vector<U256> k(chunk);
            std::vector<const Affine<F> *> add(chunk);
            std::vector<F> den(chunk), pre(chunk);
            std::vector<uint32_t> live(chunk);
            for (size_t s; (s = next.fetch_add(chunk)) < n;) {
                const size_t e = std::min(n, s + chunk), m = e - s;
                Affine<F> * acc = out + s;
                for (size_t i = 0; i < m; ++i) { k[i] = scalars[s + i].from_mont(); acc[i] = Affine<F>::infinity(); }
                for (unsigned j = 0; j < nwin_; ++j) {
                    // Gather the additions of this window; trivial cases need no inversion.
                    size_t nl = 0;
                    for (size_t i = 0; i < m; ++i) {
                        const u64 d = digit(k[i], j);
                        if (!d) continue;
                        const Affine<F> & t = table_[j * per_ + d - 1];
                        if (acc[i].is_inf()) { acc[i] = t; continue; }
                        if (acc[i].x == t.x) {
                            if (acc[i].y == t.y) { add[nl] = &t; den[nl] = t.y.dbl(); live[nl++] = (uint32_t) i; }   // doubling
                            else acc[i] = Affine<F>::infinity();                                                     // P + (-P)
                            continue;
                        }
                        add[nl] = &t;
                        den[nl] = t.x - acc[i].x;
                        live[nl++] = (uint32_t) i;
                    }
                    if (nl == 0) continue;
                    F run = F::one();
                    for (size_t q = 0; q < nl; ++q) { pre[q] = run; run = run * den[q]; }
                    F inv = run.inv();
                    for (size_t q = nl; q-- > 0;) {
                        const F dinv = inv * pre[q];
                        inv = inv * den[q];
                        Affine<F> & a = acc[live[q]];
                        const Affine<F> & t = *add[q];
                        // λ = (y2 - y1)/(x2 - x1), or 3x²/(2y) when doubling
                        const F lambda = (a.x == t.x) ? (a.x.sqr().dbl() + a.x.sqr()) * dinv : (t.y - a.y) * dinv;
                        const F x3 = lambda.sqr() - a.x - t.x;
                        a.y = lambda * (a.x - x3) - a.y;
                        a.x = x3;
                    }
                }
                if (done) done->fetch_add(m);
            }
        };
        if (threads > 1 && n > chunk) vm_engine::cpu_pool().run(threads, work); else work(0, 1);
    }

    Affine<F> mul_affine(const Fr & s) const { return mul(s.from_mont()).to_affine(); }

private:
    unsigned w_, nwin_;
    size_t per_;
    std::vector<Affine<F>> table_;
};

} // namespace vm_zk
