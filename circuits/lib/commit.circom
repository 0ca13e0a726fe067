pragma circom 2.1.0;

// Commitments shared by every circuit here; circuits/poseidon.ts hashChain and
// circuits/commit.ts packInt8 compute the same values off-circuit.

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";

// h = Poseidon16(tag·2^32 + n, v0..v14), then h = Poseidon16(h, next 15 values), the last
// chunk padded with zeros. n and tag are constants of the circuit, so the padding and the
// chunking are unambiguous.
template HashChain(tag, n) {
    signal input in[n];
    signal output out;
    var chunks = n == 0 ? 1 : (n + 14) \ 15;
    component h[chunks];
    for (var c = 0; c < chunks; c++) {
        h[c] = Poseidon(16);
        if (c == 0) {
            h[c].inputs[0] <== tag * (1 << 32) + n;
        } else {
            h[c].inputs[0] <== h[c - 1].out;
        }
        for (var i = 0; i < 15; i++) {
            var k = 15 * c + i;
            if (k < n) {
                h[c].inputs[i + 1] <== in[k];
            } else {
                h[c].inputs[i + 1] <== 0;
            }
        }
    }
    out <== h[chunks - 1].out;
}

// n int8 values (range-checked to [−128, 127]) as their two's-complement bytes, 31 bytes
// per field element, little-endian: out[e] = Σ byte[31e + i] · 256^i.
template PackInt8(n) {
    signal input in[n];
    var nOut = (n + 30) \ 31;
    signal output out[nOut];
    component bits[n];
    var acc[nOut];
    for (var e = 0; e < nOut; e++) acc[e] = 0;
    for (var k = 0; k < n; k++) {
        // bits of in + 128 (offset binary); the byte is the same bits with bit 7 flipped.
        bits[k] = Num2Bits(8);
        bits[k].in <== in[k] + 128;
        var byte = 128 * (1 - bits[k].out[7]);
        for (var i = 0; i < 7; i++) byte += bits[k].out[i] * (1 << i);
        acc[k \ 31] += byte * (1 << (8 * (k % 31)));
    }
    for (var e = 0; e < nOut; e++) out[e] <== acc[e];
}
