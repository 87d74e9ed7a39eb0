// The real @nexrender/server on loopback for the integration tests:
//   node server.js <port> <secret>   (jobs are kept in $NEXRENDER_DATABASE)
const fs = require('fs')
const micro = require('micro')
const { createHandler } = require('@nexrender/server')
const database = require('@nexrender/server/src/helpers/database')

const port = Number(process.argv[2])
const secret = process.argv[3] || ''
const server = micro(createHandler(secret)).listen(port, '127.0.0.1', () => {
    console.log(`nexrender server on 127.0.0.1:${port}`)
})
// The server answers a change first and saves its database file on a later turn of the event
// loop (setImmediate), by rewriting the whole file. Node's default SIGTERM ends the process at
// once: between truncating and rewriting the file (the server starts again with no jobs), or
// after telling an AE machine "picked" but before saving it (the server starts again with the job
// queued, and a second machine renders it too). A test that stops the server means a clean
// restart, so the stop writes what the server holds in memory, in one synchronous step, and exits.
process.on('SIGTERM', () => {
    server.close()
    if (process.env.NEXRENDER_DATABASE) {
        fs.writeFileSync(process.env.NEXRENDER_DATABASE, JSON.stringify(database.fetch()))
    }
    process.exit(0)
})
