pragma circom 2.1.0;
// The dispute tile: 16 rows × 64 columns (docs/circuits.md explains the choice).
include "./lib/tile.circom";
component main {public [statement, weightsCommitment]} = TileStep(16, 64);
