// A Kafka Streams word count with exactly_once_v2: a repartition topic (groupBy
// word), a state store with its changelog, output read back read_committed.
// Runs until the output shows the expected counts (or 120 s), then stops cleanly.
//   java -cp CLASSES:JARS StreamsApp BOOTSTRAP APP_ID IN OUT STATE_DIR word=count,...
// Prints: FINAL <TAB> word <TAB> count, one line per word, sorted.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;

public class StreamsApp {
    public static void main(String[] args) throws Exception {
        String bs = args[0], appId = args[1], in = args[2], out = args[3], stateDir = args[4];
        Map<String, Long> want = new TreeMap<>();
        for (String kv : args[5].split(",")) want.put(kv.split("=")[0], Long.parseLong(kv.split("=")[1]));

        StreamsBuilder b = new StreamsBuilder();
        b.stream(in, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(v -> Arrays.asList(v.toLowerCase().split("\\s+")))
                .groupBy((k, w) -> w, Grouped.with("by-word", Serdes.String(), Serdes.String()))
                .count(Materialized.as("counts"))
                .toStream()
                .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bs);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        KafkaStreams streams = new KafkaStreams(b.build(), p);
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();

        Properties cp = new Properties();
        cp.put("bootstrap.servers", bs);
        cp.put("isolation.level", "read_committed");
        cp.put("auto.offset.reset", "earliest");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", LongDeserializer.class.getName());
        Map<String, Long> seen = new TreeMap<>();
        long deadline = System.currentTimeMillis() + 120_000;
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(cp)) {
            List<org.apache.kafka.common.TopicPartition> tps = null;
            while (System.currentTimeMillis() < deadline && !seen.equals(want)) {
                if (tps == null) {
                    var infos = c.partitionsFor(out);
                    if (infos == null || infos.isEmpty()) { Thread.sleep(200); continue; }
                    tps = new ArrayList<>();
                    for (var i : infos) tps.add(new org.apache.kafka.common.TopicPartition(out, i.partition()));
                    c.assign(tps);
                    c.seekToBeginning(tps);
                }
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) seen.put(r.key(), r.value());
                if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) break;
            }
        }
        System.out.println("STATE\t" + streams.state());
        streams.close(Duration.ofSeconds(30));
        for (var e : seen.entrySet()) System.out.println("FINAL\t" + e.getKey() + "\t" + e.getValue());
        System.exit(0);
    }
}
