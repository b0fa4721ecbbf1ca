// The Java client (kafka-clients 4.x and 3.9) against a broker: each scenario
// prints what it saw as tab-separated lines; tests/reference/test_java_clients.py
// checks them. Compiled once per client version (tests/reference/jvm.py).
//   java -cp CLASSES:JARS Clients BOOTSTRAP SCENARIO ARGS...
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.*;

public class Clients {
    static String bootstrap;

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        String[] rest = Arrays.copyOfRange(args, 2, args.length);
        switch (args[1]) {
            case "codecs" -> codecs(rest[0]);
            case "group" -> group(rest[0], rest[1], rest[2]);
            case "commit-resume" -> commitResume(rest[0], rest[1]);
            case "txn" -> txn(rest[0], rest[1], rest[2]);
            default -> throw new IllegalArgumentException(args[1]);
        }
        System.out.flush();
        System.exit(0);
    }

    static void out(Object... fields) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fields.length; i++) { if (i > 0) sb.append('\t'); sb.append(fields[i]); }
        System.out.println(sb);
    }

    static Properties common() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("request.timeout.ms", "15000");
        p.put("default.api.timeout.ms", "30000");
        return p;
    }

    static Admin admin() { return Admin.create(common()); }

    static void createTopic(String name, int partitions) throws Exception {
        try (Admin a = admin()) {
            a.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
        }
    }

    static KafkaProducer<String, String> producer(Map<String, String> extra) {
        Properties p = common();
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.put("delivery.timeout.ms", "30000");
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(Map<String, String> extra) {
        Properties p = common();
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    static String headers(ConsumerRecord<String, String> r) {
        StringBuilder sb = new StringBuilder();
        for (Header h : r.headers()) {
            if (sb.length() > 0) sb.append(',');
            sb.append(h.key()).append('=').append(h.value() == null ? "null" : new String(h.value(), StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    static void rec(String tag, ConsumerRecord<String, String> r) {
        out(tag, r.topic(), r.partition(), r.offset(), r.key(), r.value(), headers(r), r.timestampType());
    }

    /** Read a topic from the start to its end offsets, without a group. */
    static List<ConsumerRecord<String, String>> readAll(String topic, String isolation) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(Map.of("isolation.level", isolation))) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic)) tps.add(new TopicPartition(topic, pi.partition()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 30000;
            while (System.currentTimeMillis() < deadline) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp) < end.get(tp)) done = false;
                if (done) break;
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) got.add(r);
            }
            for (TopicPartition tp : tps) out("END", tp.partition(), end.get(tp), c.position(tp));
        }
        return got;
    }

    // Idempotent producer (the default), keys, headers, every codec; read back exactly.
    static void codecs(String topic) throws Exception {
        createTopic(topic, 3);
        for (String codec : List.of("none", "gzip", "snappy", "lz4", "zstd")) {
            try (KafkaProducer<String, String> p = producer(Map.of("compression.type", codec, "linger.ms", "20"))) {
                List<java.util.concurrent.Future<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k" + (i % 4), codec + "-" + i);
                    r.headers().add("codec", codec.getBytes(StandardCharsets.UTF_8));
                    r.headers().add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                    fs.add(p.send(r));
                }
                p.flush();
                for (int i = 0; i < fs.size(); i++) {
                    RecordMetadata m = fs.get(i).get();
                    out("SENT", codec + "-" + i, m.partition(), m.offset());
                }
            }
        }
        for (ConsumerRecord<String, String> r : readAll(topic, "read_uncommitted")) rec("REC", r);
    }

    // Two members of one group, the second joining later and leaving again.
    static void group(String topic, String groupId, String assignor) throws Exception {
        createTopic(topic, 4);
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            for (int i = 0; i < 40; i++) p.send(new ProducerRecord<>(topic, i % 4, "k" + i, "v" + i));
            p.flush();
        }
        String cls = assignor.equals("cooperative-sticky") ? CooperativeStickyAssignor.class.getName()
                : RangeAssignor.class.getName();
        Map<String, String> conf = Map.of("group.id", groupId, "partition.assignment.strategy", cls,
                "max.poll.records", "3", "session.timeout.ms", "10000", "heartbeat.interval.ms", "500");
        Set<String> seen = new TreeSet<>();
        KafkaConsumer<String, String> c1 = consumer(conf);
        KafkaConsumer<String, String> c2 = consumer(conf);
        c1.subscribe(List.of(topic), listener("c1"));
        long deadline = System.currentTimeMillis() + 60000;
        while (c1.assignment().size() < 4 && System.currentTimeMillis() < deadline) pollCommit(c1, "c1", seen);
        out("PHASE", "c1-alone", sorted(c1.assignment()));
        c2.subscribe(List.of(topic), listener("c2"));
        while (System.currentTimeMillis() < deadline) {
            pollCommit(c1, "c1", seen);
            pollCommit(c2, "c2", seen);
            if (c1.assignment().size() + c2.assignment().size() == 4 && !c2.assignment().isEmpty()
                    && c1.assignment().size() == 2) break;
        }
        out("PHASE", "both", sorted(c1.assignment()), sorted(c2.assignment()));
        while (seen.size() < 40 && System.currentTimeMillis() < deadline) {
            pollCommit(c1, "c1", seen);
            pollCommit(c2, "c2", seen);
        }
        c2.close();
        while (c1.assignment().size() < 4 && System.currentTimeMillis() < deadline) pollCommit(c1, "c1", seen);
        out("PHASE", "c1-again", sorted(c1.assignment()));
        // A commit refused during a rebalance leaves work to redo: read to the end, commit.
        Map<TopicPartition, Long> end = c1.endOffsets(c1.assignment());
        while (System.currentTimeMillis() < deadline) {
            boolean atEnd = true;
            for (TopicPartition tp : c1.assignment()) if (c1.position(tp) < end.get(tp)) atEnd = false;
            if (atEnd) break;
            pollCommit(c1, "c1", seen);
        }
        c1.commitSync();
        Map<TopicPartition, OffsetAndMetadata> committed = c1.committed(c1.assignment());
        for (TopicPartition tp : sorted(c1.assignment())) out("COMMITTED", tp.partition(), committed.get(tp).offset());
        c1.close();
        out("SEEN", seen.size());
    }

    static List<TopicPartition> sorted(Collection<TopicPartition> tps) {
        List<TopicPartition> l = new ArrayList<>(tps);
        l.sort(Comparator.comparing(TopicPartition::partition));
        return l;
    }

    static ConsumerRebalanceListener listener(String who) {
        return new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> ps) { out("REVOKED", who, sorted(ps)); }
            public void onPartitionsAssigned(Collection<TopicPartition> ps) { out("ASSIGNED", who, sorted(ps)); }
        };
    }

    static void pollCommit(KafkaConsumer<String, String> c, String who, Set<String> seen) {
        ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(100));
        for (ConsumerRecord<String, String> r : rs) {
            if (!r.value().equals("v" + r.key().substring(1))) out("BAD", r.key(), r.value());
            seen.add(r.partition() + "/" + r.offset());
        }
        if (rs.isEmpty()) return;
        try {
            c.commitSync();
        } catch (RebalanceInProgressException e) {
            // The client refuses to commit while a (cooperative) rebalance runs: poll, then commit.
        }
    }

    // Manual commit of a chosen offset (with metadata), then a new member resumes there.
    static void commitResume(String topic, String groupId) throws Exception {
        createTopic(topic, 1);
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(topic, "k" + i, "v" + i));
            p.flush();
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        Map<String, String> conf = Map.of("group.id", groupId);
        try (KafkaConsumer<String, String> c = consumer(conf)) {
            c.subscribe(List.of(topic));
            int n = 0;
            long deadline = System.currentTimeMillis() + 30000;
            while (n < 10 && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
            out("READ", n);
            c.commitSync(Map.of(tp, new OffsetAndMetadata(6, "six")));
            OffsetAndMetadata om = c.committed(Set.of(tp)).get(tp);
            out("COMMITTED", om.offset(), om.metadata());
        }
        try (KafkaConsumer<String, String> c = consumer(conf)) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30000;
            ConsumerRecords<String, String> rs = ConsumerRecords.empty();
            while (rs.isEmpty() && System.currentTimeMillis() < deadline) rs = c.poll(Duration.ofMillis(200));
            ConsumerRecord<String, String> first = rs.iterator().next();
            out("RESUMED", first.offset(), first.key(), first.value());
            final long[] cb = {-1};
            c.commitAsync(Map.of(tp, new OffsetAndMetadata(8)), (offs, e) -> cb[0] = e == null ? offs.get(tp).offset() : -2);
            c.commitSync();
            out("ASYNC", cb[0]);
            OffsetAndMetadata om = c.committed(Set.of(tp)).get(tp);
            out("COMMITTED", om.offset(), om.metadata().isEmpty() ? "-" : om.metadata());
        }
    }

    // Consume-transform-produce in transactions, one aborted; read_committed sees only committed.
    static void txn(String in, String outTopic, String groupId) throws Exception {
        createTopic(in, 1);
        createTopic(outTopic, 2);
        try (KafkaProducer<String, String> p = producer(Map.of())) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(in, "k" + i, "v" + i));
            p.flush();
        }
        String txid = "tx-" + groupId;
        KafkaProducer<String, String> tp = producer(Map.of("transactional.id", txid));
        tp.initTransactions();
        try (KafkaConsumer<String, String> c = consumer(Map.of("group.id", groupId, "isolation.level", "read_committed"))) {
            c.subscribe(List.of(in));
            List<ConsumerRecord<String, String>> batch = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30000;
            while (batch.size() < 10 && System.currentTimeMillis() < deadline)
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) batch.add(r);
            tp.beginTransaction();
            for (ConsumerRecord<String, String> r : batch)
                tp.send(new ProducerRecord<>(outTopic, r.key(), r.value().toUpperCase()));
            tp.sendOffsetsToTransaction(Map.of(new TopicPartition(in, 0), new OffsetAndMetadata(batch.size())),
                    c.groupMetadata());
            tp.commitTransaction();
            out("TXN", "committed", batch.size());
        }
        tp.beginTransaction();
        tp.send(new ProducerRecord<>(outTopic, "x", "aborted-1"));
        tp.send(new ProducerRecord<>(outTopic, "y", "aborted-2"));
        tp.flush();
        tp.abortTransaction();
        out("TXN", "aborted", 2);
        tp.beginTransaction();
        tp.send(new ProducerRecord<>(outTopic, "z", "after-abort"));
        tp.commitTransaction();
        out("TXN", "committed", 1);
        // A second producer with the same transactional.id fences the first.
        KafkaProducer<String, String> tp2 = producer(Map.of("transactional.id", txid));
        tp2.initTransactions();
        try {
            tp.beginTransaction();
            tp.send(new ProducerRecord<>(outTopic, "f", "fenced")).get();
            tp.commitTransaction();
            out("FENCED", "no");
        } catch (Exception e) {
            Throwable t = e.getCause() != null && e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e;
            out("FENCED", t.getClass().getSimpleName());
        }
        tp.close(Duration.ofSeconds(5));
        tp2.close();
        for (ConsumerRecord<String, String> r : readAll(outTopic, "read_committed")) rec("RC", r);
        for (ConsumerRecord<String, String> r : readAll(outTopic, "read_uncommitted")) rec("RU", r);
        try (Admin a = admin()) {
            Map<TopicPartition, OffsetAndMetadata> offs =
                    a.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata().get();
            for (var e : offs.entrySet()) out("GROUP-OFFSET", e.getKey().topic(), e.getKey().partition(), e.getValue().offset());
        }
    }
}
