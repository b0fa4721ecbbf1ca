// Drives a broker with kafkajs and prints one JSON line of what it saw;
// the Python test checks the content. Usage: node kafkajs_round_trip.js HOST:PORT TOPIC
const { Kafka, logLevel, CompressionTypes } = require('kafkajs')

const [broker, topic] = process.argv.slice(2)
const kafka = new Kafka({ clientId: 'chronik-test', brokers: [broker], logLevel: logLevel.ERROR })

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
  const topics = await admin.listTopics()
  await admin.disconnect()

  const producer = kafka.producer({ idempotent: true })
  await producer.connect()
  const messages = []
  for (let i = 0; i < 50; i++) messages.push({ key: 'k' + (i % 5), value: 'v' + i, headers: { n: String(i) } })
  await producer.send({ topic, messages, compression: CompressionTypes.GZIP })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: topic + '-group' })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const seen = []
  await new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({ partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString(), n: message.headers.n.toString() })
        if (seen.length === 50) resolve()
      }
    })
  })
  await consumer.disconnect()

  const txProducer = kafka.producer({ transactionalId: topic + '-tx', idempotent: true, maxInFlightRequests: 1 })
  await txProducer.connect()
  const committed = await txProducer.transaction()
  await committed.send({ topic, messages: [{ key: 'tx', value: 'committed' }] })
  await committed.commit()
  const aborted = await txProducer.transaction()
  await aborted.send({ topic, messages: [{ key: 'tx', value: 'aborted' }] })
  await aborted.abort()
  await txProducer.disconnect()

  console.log(JSON.stringify({ topics, seen }))
}

main().catch((err) => { console.error(err); process.exit(1) })
