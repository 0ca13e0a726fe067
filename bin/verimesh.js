#!/usr/bin/env node
// The polyfills must run before any libp2p module is evaluated, so the CLI is
// imported dynamically after them.
import '../dist/runtime/polyfills.js'
const { main } = await import('../dist/runtime/cli/main.js')
process.exitCode = await main(process.argv.slice(2))
