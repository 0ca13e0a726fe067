import test from 'ava'
import { StakeBook } from '../actors/router/stake-book.js'
import { silentLogger } from '../runtime/node/logger.js'

const A = '0x' + 'aa'.repeat(20)
const B = '0x' + 'bb'.repeat(20)

test('chain stakes replace configured ones as they are read; a failed read keeps the last value', async (t) => {
  let fail = false
  const chain = new Map([[A, 5n], [B, 7n]])
  const book = new StakeBook({ [A.toUpperCase().replace('0X', '0x')]: '100' }, () => [A, B], silentLogger(), async (op) => {
    if (fail) throw new Error('rpc down')
    return chain.get(op)!
  })
  t.deepEqual(book.stakes(), { [A]: '100' }, 'before any read: the config, keys lower-cased')
  await book.refresh()
  t.deepEqual(book.stakes(), { [A]: '5', [B]: '7' })
  chain.set(A, 9n)
  fail = true
  await book.refresh()
  t.deepEqual(book.stakes(), { [A]: '5', [B]: '7' }, 'the last good values stay')
  fail = false
  await book.refresh()
  t.is(book.stakes()[A], '9')
})

test('without a chain the configured stakes are all there is', async (t) => {
  const book = new StakeBook({ [A]: '3' }, () => [A, B], silentLogger())
  book.start(10)
  await book.refresh()
  t.deepEqual(book.stakes(), { [A]: '3' })
  book.stop()
})
