#pragma once

// Radix-2 NTT over BN254's Fr with ffjavascript's domain: ω_{2^k} = Fr.w[k],
// where w[28] = nqr^t (nqr = 5, the least quadratic non-residue, r - 1 = 2^28·t)
// and w[k] = w[k+1]^2. Forward: out[k] = Σ_j in[j]·ω^{jk}; inverse divides by n.
// Natural order in and out, values in Montgomery form.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "field.h"

namespace vm_zk {

// ω_{2^k} for k in [0, 28].
const Fr & fr_root_of_unity(unsigned k);
// ffjavascript's Fr.shift = nqr^2 (coset generator used when the domain is 2^28).
const Fr & fr_shift();

// In place; n = 2^log2n. `threads` >= 1 (the engine's process-wide pool).
void ntt(Fr * a, unsigned log2n, bool inverse, int threads);

// a[i] *= first · inc^i (ffjavascript's batchApplyKey).
void apply_key(Fr * a, size_t n, const Fr & first, const Fr & inc, int threads);

} // namespace vm_zk
