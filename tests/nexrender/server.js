// The real @nexrender/server on loopback for the integration tests:
//   node server.js <port> <secret>   (jobs are kept in $NEXRENDER_DATABASE)
const micro = require('micro')
const { createHandler } = require('@nexrender/server')

const port = Number(process.argv[2])
const secret = process.argv[3] || ''
micro(createHandler(secret)).listen(port, '127.0.0.1', () => {
    console.log(`nexrender server on 127.0.0.1:${port}`)
})
