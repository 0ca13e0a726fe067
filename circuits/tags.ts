// Domain-separation tags of the commitments (the first element of every hash chain,
// circuits/poseidon.ts hashChain). The circuits use the same numbers as literals.
export const TAG = {
  receipt: 1,
  tileWeights: 2,
  tileInput: 3,
  tileOutput: 4,
  tileStatement: 5,
  mlpStatement: 6
} as const
