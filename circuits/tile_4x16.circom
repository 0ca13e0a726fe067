pragma circom 2.1.0;
// A small instance of the same template, for fast end-to-end proof tests.
include "./lib/tile.circom";
component main {public [statement, weightsCommitment]} = TileStep(4, 16);
