pragma circom 2.1.0;

// The receipt circuit: binds model root, request id, input and output commitments (each
// 256 bits as two range-checked 128-bit limbs, high first), the executor address (160
// bits) and the quorum epoch (64 bits) into one Poseidon commitment, the only public
// input. Encoding: circuits/receipt-encoding.ts.
//   statement = HashChain(1; modelRoot.hi, .lo, requestId.hi, .lo, inputHash.hi, .lo,
//                            outputHash.hi, .lo, executor, epoch)

include "circomlib/circuits/bitify.circom";
include "./lib/commit.circom";

template Receipt() {
    signal input statement;
    signal input modelRoot[2];
    signal input requestId[2];
    signal input inputHash[2];
    signal input outputHash[2];
    signal input executor;
    signal input epoch;

    component limbs[8];
    for (var i = 0; i < 8; i++) limbs[i] = Num2Bits(128);
    for (var i = 0; i < 2; i++) {
        limbs[i].in <== modelRoot[i];
        limbs[2 + i].in <== requestId[i];
        limbs[4 + i].in <== inputHash[i];
        limbs[6 + i].in <== outputHash[i];
    }
    component executorRange = Num2Bits(160);
    executorRange.in <== executor;
    component epochRange = Num2Bits(64);
    epochRange.in <== epoch;

    component h = HashChain(1, 10);
    h.in[0] <== modelRoot[0];
    h.in[1] <== modelRoot[1];
    h.in[2] <== requestId[0];
    h.in[3] <== requestId[1];
    h.in[4] <== inputHash[0];
    h.in[5] <== inputHash[1];
    h.in[6] <== outputHash[0];
    h.in[7] <== outputHash[1];
    h.in[8] <== executor;
    h.in[9] <== epoch;
    statement === h.out;
}

component main {public [statement]} = Receipt();
