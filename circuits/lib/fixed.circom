pragma circom 2.1.0;

// The integer primitives of docs/engine-spec.md §1 as constraints. Signed integers are
// field elements (−x is p − x); every template states the range it assumes of its inputs
// and range-checks what it computes, so no value can wrap around the field.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

// in ∈ [−2^(n−1), 2^(n−1)).
template SignedRange(n) {
    signal input in;
    component bits = Num2Bits(n);
    bits.in <== in + (1 << (n - 1));
}

// out = 1 if a < b, for a, b ∈ [−2^(n−1), 2^(n−1)) (n ≤ 251).
template SignedLessThan(n) {
    signal input a;
    signal input b;
    signal output out;
    component lt = LessThan(n);
    lt.in[0] <== a + (1 << (n - 1));
    lt.in[1] <== b + (1 << (n - 1));
    out <== lt.out;
}

// sat32: clamp to [−(2^31−1), 2^31−1]. Range-checks in ∈ [−2^(n−1), 2^(n−1)) (n ≥ 33) by
// decomposing in + 2^(n−1), and reads both saturation tests off those bits instead of
// two full comparisons: in ≥ 2^31 iff the top bit is set and some bit 31..n−2 is set;
// in ≥ −(2^31−1) for negative in iff bits 31..n−2 are all set and the low 31 are not 0.
template Sat32Bits(n) {
    signal input in;
    signal output out;
    var MAX = 2147483647;
    component bits = Num2Bits(n);
    bits.in <== in + (1 << (n - 1));
    var hi = 0;
    for (var i = 31; i < n - 1; i++) hi += bits.out[i];
    var low = 0;
    for (var i = 0; i < 31; i++) low += bits.out[i] * (1 << i);
    component hiZero = IsZero();
    hiZero.in <== hi;
    component hiFull = IsZero();
    hiFull.in <== hi - (n - 32);
    component lowZero = IsZero();
    lowZero.in <== low;
    signal sign <== bits.out[n - 1];
    signal pos <== sign * (1 - hiZero.out);
    signal negOk <== hiFull.out * (1 - lowZero.out);
    signal neg <== (1 - sign) * (1 - negOk);
    signal up <== pos * (MAX - in);
    signal down <== neg * (-MAX - in);
    out <== in + up + down;
}

// out = 2^t for t ∈ [0, 2^nBits), with t range-checked.
template Pow2(nBits) {
    signal input t;
    signal output out;
    component bits = Num2Bits(nBits);
    bits.in <== t;
    signal acc[nBits + 1];
    acc[0] <== 1;
    for (var i = 0; i < nBits; i++) {
        acc[i + 1] <== acc[i] * (1 + bits.out[i] * ((1 << (1 << i)) - 1));
    }
    out <== acc[nBits];
}

// floor((in + 2^(s−1)) / 2^s) for a constant s > 0 (rshr with a fixed shift).
// in ∈ [−2^(nIn−1), 2^(nIn−1)), nIn > s. The caller must range-check out to
// [−2^(nIn−s+1), 2^(nIn−s+1)) (Sat32Bits(nIn − s + 2) does), which makes it unique.
template RshrConst(nIn, s) {
    signal input in;
    signal output out;
    var OFF = 1 << (nIn + 1);
    signal r;
    out <-- ((in + (1 << (s - 1)) + OFF) \ (1 << s)) - (OFF \ (1 << s));
    r <-- (in + (1 << (s - 1)) + OFF) % (1 << s);
    in + (1 << (s - 1)) === out * (1 << s) + r;
    component rRange = Num2Bits(s);
    rRange.in <== r;
}

// rshr(in, t − OFFSET) for a variable shift t ∈ [0, tMax] (tMax < 2^tBits): with in
// already multiplied by 2^OFFSET by the caller, one rounding right shift by t covers
// the spec's negative shifts (a left shift, exact) and positive ones (round half up):
// out = floor((in + half) / 2^t), half = 2^(t−1) for t > 0, 0 for t = 0.
// in ∈ [−2^(nIn−1), 2^(nIn−1)). The caller must range-check out to [−2^nIn, 2^nIn)
// (Sat32Bits(nIn + 1) does), which makes it unique.
template RshrVar(nIn, tBits, tMax) {
    signal input in;
    signal input t;
    signal output out;
    component pow = Pow2(tBits);
    pow.t <== t;
    component le = LessThan(tBits + 1);
    le.in[0] <== t;
    le.in[1] <== tMax + 1;
    le.out === 1;
    component isZero = IsZero();
    isZero.in <== t;
    signal half;
    half <-- (pow.out - isZero.out) / 2;
    2 * half === pow.out - isZero.out;
    var OFF = 1 << (nIn + tMax + 1);
    signal r;
    out <-- ((in + half + OFF) \ pow.out) - (OFF \ pow.out);
    r <-- (in + half + OFF) % pow.out;
    in + half === out * pow.out + r;
    component rRange = Num2Bits(tMax);
    rRange.in <== r;
    component rLess = LessThan(tMax + 1);
    rLess.in[0] <== r;
    rLess.in[1] <== pow.out;
    rLess.out === 1;
}
