pragma circom 2.1.0;

// One step of the engine's linear layer (docs/engine-spec.md §2.1) on an R×K weight tile,
// continuing each row's int32 accumulator so that a layer wider than K is a chain of
// steps (accIn of step i+1 = acc of step i; the last step's y is the layer output).
// Commitments (circuits/tile-encoding.ts computes the same; tags: circuits/tags.ts):
//   weights = HashChain(2; per row: PackInt8(W[j]), mw_j, xw_j, bias_j)
//   input   = HashChain(3; PackInt8(a), ma, xa, accIn_0..accIn_{R−1})
//   output  = HashChain(4; acc_0, y_0, …, acc_{R−1}, y_{R−1})
//   statement = HashChain(5; step, weights, input, output)      ← public signal 0
//   weightsCommitment = weights                                   ← public signal 1
// The weights commitment is public on its own as well so that the dispute contract
// (contracts/Disputes.sol) can check it against the model's registered tile tree with
// keccak only: recomputing it from the statement would need Poseidon on chain.

include "circomlib/circuits/bitify.circom";
include "./fixed.circom";
include "./commit.circom";
include "./linear.circom";

template TileStep(R, K) {
    var P = (K + 30) \ 31;
    signal input statement;
    signal input weightsCommitment;
    signal input step;
    signal input w[R][K];
    signal input mw[R];
    signal input xw[R];
    signal input bias[R];
    signal input a[K];
    signal input ma;
    signal input xa;
    signal input accIn[R];

    component maRange = Num2Bits(31);
    maRange.in <== ma;
    component aPack = PackInt8(K);
    aPack.in <== a;

    component wPack[R];
    component biasRange[R];
    component mwRange[R];
    component accInRange[R];
    component row[R];
    component weights = HashChain(2, R * (P + 3));
    component inC = HashChain(3, P + 2 + R);
    component outC = HashChain(4, 2 * R);
    for (var p = 0; p < P; p++) inC.in[p] <== aPack.out[p];
    inC.in[P] <== ma;
    inC.in[P + 1] <== xa;
    for (var j = 0; j < R; j++) {
        wPack[j] = PackInt8(K);
        wPack[j].in <== w[j];
        mwRange[j] = Num2Bits(31);
        mwRange[j].in <== mw[j];
        biasRange[j] = SignedRange(32);
        biasRange[j].in <== bias[j];
        accInRange[j] = SignedRange(32);
        accInRange[j].in <== accIn[j];
        for (var p = 0; p < P; p++) weights.in[j * (P + 3) + p] <== wPack[j].out[p];
        weights.in[j * (P + 3) + P] <== mw[j];
        weights.in[j * (P + 3) + P + 1] <== xw[j];
        weights.in[j * (P + 3) + P + 2] <== bias[j];
        inC.in[P + 2 + j] <== accIn[j];

        row[j] = LinearRow(K);
        row[j].a <== a;
        row[j].w <== w[j];
        row[j].accIn <== accIn[j];
        row[j].mw <== mw[j];
        row[j].xw <== xw[j];
        row[j].ma <== ma;
        row[j].xa <== xa;
        row[j].bias <== bias[j];
        outC.in[2 * j] <== row[j].acc;
        outC.in[2 * j + 1] <== row[j].y;
    }
    component stmt = HashChain(5, 4);
    stmt.in[0] <== step;
    stmt.in[1] <== weights.out;
    stmt.in[2] <== inC.out;
    stmt.in[3] <== outC.out;
    statement === stmt.out;
    weightsCommitment === weights.out;
}
