pragma circom 2.1.0;

// docs/engine-spec.md §2.1 (linear, one output row) and §1.3 (qvec) as constraints.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "./fixed.circom";

// Requantization shifts: y = mulr(u, ma, s) with s = −(xa + xw + 47). The circuit accepts
// s ∈ [−31, 64] (the spec requires s ≥ −31; from s = 63 on every result is 0 since
// |u·ma| < 2^62) and proves it as t = s + 31 ∈ [0, 95].
function SHIFT_T_MAX() { return 95; }

// One output row of `linear` on K inputs, continuing an accumulator:
//   acc = accIn + Σ_k a[k]·w[k]                 (int32, range-checked)
//   u   = mulr(acc, mw, 31)
//   y0  = mulr(u, ma, −(xa + xw + 47))
//   y   = sat32(y0 + bias)
// Assumes (the caller checks, or they are constants): a[k], w[k] ∈ [−128, 127]; accIn,
// bias ∈ [−2^31, 2^31); ma, mw ∈ [0, 2^31). Checks here: the shift range and
// acc ∈ [−2^31, 2^31) (the engine accumulates in int32).
template LinearRow(K) {
    signal input a[K];
    signal input w[K];
    signal input accIn;
    signal input mw;
    signal input xw;
    signal input ma;
    signal input xa;
    signal input bias;
    signal output acc;
    signal output y;

    signal prod[K];
    var sum = accIn;
    for (var k = 0; k < K; k++) {
        prod[k] <== a[k] * w[k];
        sum += prod[k];
    }
    acc <== sum;
    component accRange = SignedRange(32);
    accRange.in <== acc;

    // u = sat32(rshr(acc·mw, 31)); |acc·mw| < 2^62.
    signal p1 <== acc * mw;
    component r1 = RshrConst(63, 31);
    r1.in <== p1;
    component u = Sat32Bits(34);
    u.in <== r1.out;

    // y0 = sat32(rshr(u·ma, s)) computed as rshr(u·ma·2^31, s + 31); |u·ma·2^31| < 2^93.
    signal p2 <== u.out * ma;
    component r2 = RshrVar(94, 7, SHIFT_T_MAX());
    r2.in <== p2 * (1 << 31);
    r2.t <== -xa - xw - 16;
    component y0 = Sat32Bits(95);
    y0.in <== r2.out;

    component yb = Sat32Bits(34);
    yb.in <== y0.out + bias;
    y <== yb.out;
}

// qvec (spec §1.3) of n int32 values v (range-checked here):
//   amax = max |v_i|; q_i = rdiv(127·v_i, amax); b = bitlen(amax);
//   (m, x) = (rdiv(amax·2^(37−b), 127), b − 53), or q = 0, (2^30, −53) when amax = 0.
template QVec(n) {
    signal input v[n];
    signal output q[n];
    signal output m;
    signal output x;

    // |v_i| from the sign bit of v_i + 2^31.
    component sign[n];
    signal negPart[n];
    signal absV[n];
    for (var i = 0; i < n; i++) {
        sign[i] = Num2Bits(32);
        sign[i].in <== v[i] + (1 << 31);
        negPart[i] <== (1 - sign[i].out[31]) * v[i];
        absV[i] <== v[i] - 2 * negPart[i];
    }
    // running maximum; |v_i| ≤ 2^31.
    signal mx[n];
    component gt[n];
    mx[0] <== absV[0];
    for (var i = 1; i < n; i++) {
        gt[i] = LessThan(33);
        gt[i].in[0] <== mx[i - 1];
        gt[i].in[1] <== absV[i];
        mx[i] <== mx[i - 1] + gt[i].out * (absV[i] - mx[i - 1]);
    }
    component isZero = IsZero();
    isZero.in <== mx[n - 1];
    // d = amax, or 1 when amax = 0 (then every q_i = rdiv(0, 1) = 0 and b = 1).
    signal d <== mx[n - 1] + isZero.out;

    // q_i = floor((254·v_i + d) / (2d)): 254·v_i + d = q_i·2d + r_i, 0 ≤ r_i < 2d.
    signal r[n];
    component rRange[n];
    component rLess[n];
    component qRange[n];
    for (var i = 0; i < n; i++) {
        var num = 254 * v[i] + d;
        var OFF = 1 << 60;
        q[i] <-- ((num + 2 * d * OFF) \ (2 * d)) - OFF;
        r[i] <-- (num + 2 * d * OFF) % (2 * d);
        254 * v[i] + d === q[i] * 2 * d + r[i];
        rRange[i] = Num2Bits(34);
        rRange[i].in <== r[i];
        rLess[i] = LessThan(34);
        rLess[i].in[0] <== r[i];
        rLess[i].in[1] <== 2 * d;
        rLess[i].out === 1;
        qRange[i] = SignedRange(9);
        qRange[i].in <== q[i];
    }

    // b = bitlen(d): 2^(b−1) ≤ d < 2^b, with b − 1 ∈ [0, 31].
    signal b;
    var bl = 0;
    for (var i = 0; i < 33; i++) {
        if ((d >> i) > 0) bl = i + 1;
    }
    b <-- bl;
    component lowPow = Pow2(5);
    lowPow.t <== b - 1;
    component above = LessThan(34);
    above.in[0] <== d;
    above.in[1] <== lowPow.out;
    above.out === 0;
    component below = LessThan(34);
    below.in[0] <== d;
    below.in[1] <== 2 * lowPow.out;
    below.out === 1;

    // m' = floor((2·d·2^(37−b) + 127) / 254); 2^(37−b) = 2^36 / 2^(b−1) exactly.
    signal e;
    e <-- (1 << 36) \ lowPow.out;
    e * lowPow.out === 1 << 36;
    signal scaled <== d * e;
    signal mq;
    signal mr;
    mq <-- (2 * scaled + 127) \ 254;
    mr <-- (2 * scaled + 127) % 254;
    2 * scaled + 127 === 254 * mq + mr;
    component mrRange = Num2Bits(8);
    mrRange.in <== mr;
    component mrLess = LessThan(8);
    mrLess.in[0] <== mr;
    mrLess.in[1] <== 254;
    mrLess.out === 1;
    component mqRange = Num2Bits(32);
    mqRange.in <== mq;

    m <== mq + isZero.out * ((1 << 30) - mq);
    x <== b - 53 - isZero.out;
}
