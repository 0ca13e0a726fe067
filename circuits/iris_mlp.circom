pragma circom 2.1.0;

// The whole inference of the quantized iris MLP (circuits/iris/model.ts irisInfer):
// x (Q16 features) → qvec → linear 4→8 (+bias) → ReLU → qvec → linear 8→3 (+bias) →
// argmax (first maximum) = class. The weights are constants of the circuit
// (circuits/iris/iris_weights.circom, generated from iris-mlp.json), so the verification
// key identifies the model. One public input:
//   statement = HashChain(6; x0, x1, x2, x3, class)

include "circomlib/circuits/bitify.circom";
include "./lib/fixed.circom";
include "./lib/commit.circom";
include "./lib/linear.circom";
include "./iris/iris_weights.circom";

template IrisMlp() {
    signal input statement;
    signal input x[4];
    signal input class;

    var W1[8][4] = IRIS_W1();
    var S1[8][2] = IRIS_S1();
    var B1[8] = IRIS_B1();
    var W2[3][8] = IRIS_W2();
    var S2[3][2] = IRIS_S2();
    var B2[3] = IRIS_B2();

    component q0 = QVec(4);
    q0.v <== x;

    component h[8];
    component relu[8];
    signal hr[8];
    for (var j = 0; j < 8; j++) {
        h[j] = LinearRow(4);
        h[j].a <== q0.q;
        for (var k = 0; k < 4; k++) h[j].w[k] <== W1[j][k];
        h[j].accIn <== 0;
        h[j].mw <== S1[j][0];
        h[j].xw <== S1[j][1];
        h[j].ma <== q0.m;
        h[j].xa <== q0.x;
        h[j].bias <== B1[j];
        // ReLU: keep y when its sign bit (of y + 2^31) says y ≥ 0.
        relu[j] = Num2Bits(32);
        relu[j].in <== h[j].y + (1 << 31);
        hr[j] <== relu[j].out[31] * h[j].y;
    }

    component q1 = QVec(8);
    q1.v <== hr;

    component o[3];
    for (var i = 0; i < 3; i++) {
        o[i] = LinearRow(8);
        o[i].a <== q1.q;
        for (var k = 0; k < 8; k++) o[i].w[k] <== W2[i][k];
        o[i].accIn <== 0;
        o[i].mw <== S2[i][0];
        o[i].xw <== S2[i][1];
        o[i].ma <== q1.m;
        o[i].xa <== q1.x;
        o[i].bias <== B2[i];
    }

    // argmax, first maximum: replace only on a strictly greater logit.
    signal best[3];
    signal idx[3];
    component gt[3];
    best[0] <== o[0].y;
    idx[0] <== 0;
    for (var i = 1; i < 3; i++) {
        gt[i] = SignedLessThan(33);
        gt[i].a <== best[i - 1];
        gt[i].b <== o[i].y;
        best[i] <== best[i - 1] + gt[i].out * (o[i].y - best[i - 1]);
        idx[i] <== idx[i - 1] + gt[i].out * (i - idx[i - 1]);
    }
    class === idx[2];

    component st = HashChain(6, 5);
    for (var k = 0; k < 4; k++) st.in[k] <== x[k];
    st.in[4] <== class;
    statement === st.out;
}

component main {public [statement]} = IrisMlp();
