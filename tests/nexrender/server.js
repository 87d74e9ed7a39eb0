// The real @nexrender/server on loopback for the integration tests:
//   node server.js <port> <secret>   (jobs are kept in $NEXRENDER_DATABASE)
const micro = require('micro')
const { createHandler } = require('@nexrender/server')

const port = Number(process.argv[2])
const secret = process.argv[3] || ''
const server = micro(createHandler(secret)).listen(port, '127.0.0.1', () => {
    console.log(`nexrender server on 127.0.0.1:${port}`)
})
// The server rewrites its whole database file on every change (truncate, then write). Node's
// default SIGTERM ends the process at once, even between the two, and the server then starts
// again with no jobs. Stopping from the event loop never lands inside a (synchronous) write, so
// a test that stops the server gets an outage in which its jobs survive, as on a real restart.
process.on('SIGTERM', () => {
    server.close()
    process.exit(0)
})
