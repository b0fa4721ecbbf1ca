// Every AdminClient call that has a meaning on one node, against a broker.
// Prints one line per call: CALL <TAB> name <TAB> OK|ERR <TAB> a summary free
// of ids and times, so Apache Kafka's and Chronik's answers compare line by line.
//   java -cp CLASSES:JARS AdminCalls BOOTSTRAP PREFIX
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.serialization.*;

public class AdminCalls {
    interface Call { Object run() throws Exception; }

    static void call(String name, Call c) {
        String status, summary;
        try {
            Object r = c.run();
            status = "OK";
            summary = String.valueOf(r);
        } catch (Throwable e) {
            Throwable t = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            status = "ERR";
            summary = t.getClass().getSimpleName();
        }
        System.out.println("CALL\t" + name + "\t" + status + "\t" + summary.replace('\n', ' ').replace('\t', ' '));
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        String bs = args[0], pre = args[1];
        String topic = pre + "-a", group = pre + "-g", txid = pre + "-tx";
        Properties props = new Properties();
        props.put("bootstrap.servers", bs);
        props.put("request.timeout.ms", "10000");
        props.put("default.api.timeout.ms", "15000");
        Admin a = Admin.create(props);
        ConfigResource topicRes = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        TopicPartition tp0 = new TopicPartition(topic, 0);

        call("describeCluster", () -> {
            DescribeClusterResult r = a.describeCluster();
            return "nodes=" + r.nodes().get().size() + " controller=" + (r.controller().get() != null)
                    + " clusterId=" + (r.clusterId().get() != null);
        });
        int node = a.describeCluster().nodes().get().iterator().next().id();
        call("createTopics", () -> {
            NewTopic t = new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "3600000", "cleanup.policy", "delete"));
            CreateTopicsResult r = a.createTopics(List.of(t));
            r.all().get();
            return "partitions=" + r.numPartitions(topic).get() + " rf=" + r.replicationFactor(topic).get();
        });
        call("createTopics.exists", () -> a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get());
        call("createTopics.badName", () -> a.createTopics(List.of(new NewTopic("bad name!", 1, (short) 1))).all().get());
        call("createTopics.rf3", () -> a.createTopics(List.of(new NewTopic(pre + "-rf3", 1, (short) 3))).all().get());
        call("createTopics.zeroPartitions", () -> a.createTopics(List.of(new NewTopic(pre + "-p0", 0, (short) 1))).all().get());
        call("createTopics.badConfig", () -> a.createTopics(List.of(new NewTopic(pre + "-bc", 1, (short) 1)
                .configs(Map.of("cleanup.policy", "bogus")))).all().get());
        call("createTopics.validateOnly", () -> {
            a.createTopics(List.of(new NewTopic(pre + "-vo", 2, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all().get();
            return a.listTopics().names().get().contains(pre + "-vo");
        });
        call("listTopics", () -> a.listTopics().names().get().contains(topic));
        call("describeTopics", () -> {
            TopicDescription d = a.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            return "partitions=" + d.partitions().size() + " leader=" + (d.partitions().get(0).leader().id() == node)
                    + " isr=" + d.partitions().get(0).isr().size() + " internal=" + d.isInternal()
                    + " topicId=" + (d.topicId() != null && !d.topicId().equals(Uuid.ZERO_UUID));
        });
        call("describeTopics.unknown", () -> a.describeTopics(List.of(pre + "-nope")).allTopicNames().get());
        call("describeConfigs.topic", () -> {
            Config c = a.describeConfigs(List.of(topicRes)).all().get().get(topicRes);
            ConfigEntry e = c.get("retention.ms");
            ConfigEntry s = c.get("segment.bytes");
            return "retention.ms=" + e.value() + "/" + e.source() + " segment.bytes=" + s.value() + "/" + s.source();
        });
        call("describeConfigs.broker", () -> {
            ConfigResource br = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(node));
            Config c = a.describeConfigs(List.of(br)).all().get().get(br);
            return "has-entries=" + (c.entries().size() > 10);
        });
        call("incrementalAlterConfigs.set", () -> {
            a.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
            ConfigEntry e = a.describeConfigs(List.of(topicRes)).all().get().get(topicRes).get("retention.ms");
            return e.value() + "/" + e.source();
        });
        call("incrementalAlterConfigs.delete", () -> {
            a.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(
                    new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all().get();
            ConfigEntry e = a.describeConfigs(List.of(topicRes)).all().get().get(topicRes).get("retention.ms");
            return e.value() + "/" + e.source();
        });
        call("incrementalAlterConfigs.unknownKey", () -> a.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(
                new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all().get());
        call("incrementalAlterConfigs.badValue", () -> a.incrementalAlterConfigs(Map.of(topicRes, List.of(new AlterConfigOp(
                new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET)))).all().get());
        call("createPartitions", () -> {
            a.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get();
            return a.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
        });
        call("createPartitions.decrease", () -> a.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all().get());
        call("createPartitions.unknown", () -> a.createPartitions(Map.of(pre + "-nope", NewPartitions.increaseTo(2))).all().get());

        Properties pp = new Properties();
        pp.put("bootstrap.servers", bs);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(topic, 0, 1_700_000_000_000L + i * 1000, "k" + i, "v" + i));
            p.flush();
        }
        call("listOffsets", () -> {
            StringBuilder sb = new StringBuilder();
            for (var e : List.of(Map.entry("earliest", OffsetSpec.earliest()), Map.entry("latest", OffsetSpec.latest()),
                    Map.entry("maxTimestamp", OffsetSpec.maxTimestamp()),
                    Map.entry("forTimestamp", OffsetSpec.forTimestamp(1_700_000_004_500L)),
                    Map.entry("forTimestampFuture", OffsetSpec.forTimestamp(1_900_000_000_000L)))) {
                ListOffsetsResult.ListOffsetsResultInfo i = a.listOffsets(Map.of(tp0, e.getValue())).partitionResult(tp0).get();
                sb.append(e.getKey()).append('=').append(i.offset()).append('@').append(i.timestamp()).append(' ');
            }
            return sb.toString().trim();
        });
        call("deleteRecords", () -> a.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp0).get().lowWatermark());
        call("deleteRecords.beyondEnd", () -> a.deleteRecords(Map.of(tp0, RecordsToDelete.beforeOffset(99))).lowWatermarks().get(tp0).get().lowWatermark());
        call("listOffsets.afterDelete", () -> a.listOffsets(Map.of(tp0, OffsetSpec.earliest())).partitionResult(tp0).get().offset());

        Properties cp = new Properties();
        cp.put("bootstrap.servers", bs);
        cp.put("group.id", group);
        cp.put("enable.auto.commit", "false");
        cp.put("auto.offset.reset", "earliest");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        KafkaConsumer<String, String> c = new KafkaConsumer<>(cp);
        c.subscribe(List.of(topic));
        long deadline = System.currentTimeMillis() + 20000;
        int n = 0;
        while (n < 6 && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
        c.commitSync(Map.of(tp0, new OffsetAndMetadata(7)));
        call("describeConsumerGroups.stable", () -> {
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(group)).all().get().get(group);
            return "state=" + d.groupState() + " members=" + d.members().size() + " assignor=" + d.partitionAssignor()
                    + " assigned=" + d.members().iterator().next().assignment().topicPartitions().size();
        });
        call("deleteConsumerGroups.nonEmpty", () -> a.deleteConsumerGroups(List.of(group)).all().get());
        c.close();
        call("listGroups", () -> {
            for (GroupListing g : a.listGroups().all().get())
                if (g.groupId().equals(group)) return "type=" + g.type().orElse(null) + " state=" + g.groupState().orElse(null)
                        + " protocol=" + g.protocol();
            return "missing";
        });
        call("listConsumerGroups", () -> {
            for (ConsumerGroupListing g : a.listConsumerGroups().all().get())
                if (g.groupId().equals(group)) return "state=" + g.groupState().orElse(null);
            return "missing";
        });
        call("describeConsumerGroups.empty", () -> {
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(group)).all().get().get(group);
            return "state=" + d.groupState() + " members=" + d.members().size() + " type=" + d.type();
        });
        call("describeConsumerGroups.unknown", () -> {
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(pre + "-nogroup")).all().get().get(pre + "-nogroup");
            return "state=" + d.groupState() + " members=" + d.members().size();
        });
        call("listConsumerGroupOffsets", () -> a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp0).offset());
        call("alterConsumerGroupOffsets", () -> {
            a.alterConsumerGroupOffsets(group, Map.of(tp0, new OffsetAndMetadata(5))).all().get();
            return a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp0).offset();
        });
        call("deleteConsumerGroupOffsets", () -> {
            a.deleteConsumerGroupOffsets(group, Set.of(tp0)).all().get();
            return a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp0);
        });
        call("deleteConsumerGroups", () -> {
            a.deleteConsumerGroups(List.of(group)).all().get();
            for (int i = 0; i < 50; i++) {  // Kafka's listing may lag the deletion a little
                boolean listed = false;
                for (ConsumerGroupListing g : a.listConsumerGroups().all().get()) listed |= g.groupId().equals(group);
                if (!listed) return "gone";
                Thread.sleep(100);
            }
            return "still listed";
        });
        call("deleteConsumerGroups.unknown", () -> a.deleteConsumerGroups(List.of(pre + "-nogroup")).all().get());

        Properties tpp = new Properties();
        tpp.putAll(pp);
        tpp.put("transactional.id", txid);
        KafkaProducer<String, String> tx = new KafkaProducer<>(tpp);
        tx.initTransactions();
        tx.beginTransaction();
        tx.send(new ProducerRecord<>(topic, 1, "t", "open")).get();
        call("describeProducers", () -> {
            List<ProducerState> ps = a.describeProducers(List.of(new TopicPartition(topic, 1))).partitionResult(new TopicPartition(topic, 1)).get().activeProducers();
            return "producers=" + ps.size() + " open-txn=" + ps.get(0).currentTransactionStartOffset().isPresent()
                    + " lastSequence=" + ps.get(0).lastSequence();
        });
        call("listTransactions", () -> {
            for (TransactionListing l : a.listTransactions().all().get())
                if (l.transactionalId().equals(txid)) return "state=" + l.state();
            return "missing";
        });
        call("describeTransactions.ongoing", () -> {
            TransactionDescription d = a.describeTransactions(List.of(txid)).description(txid).get();
            return "state=" + d.state() + " partitions=" + d.topicPartitions() + " timeout=" + d.transactionTimeoutMs();
        });
        tx.abortTransaction();
        tx.close();
        call("describeTransactions.afterAbort", () -> "state=" + a.describeTransactions(List.of(txid)).description(txid).get().state());
        call("describeTransactions.unknown", () -> a.describeTransactions(List.of(pre + "-notx")).description(pre + "-notx").get());
        call("describeLogDirs", () -> {
            var dirs = a.describeLogDirs(List.of(node)).allDescriptions().get().get(node);
            LogDirDescription d = dirs.values().iterator().next();
            return "dirs=" + dirs.size() + " has-topic=" + d.replicaInfos().containsKey(tp0)
                    + " size>0=" + (d.replicaInfos().containsKey(tp0) && d.replicaInfos().get(tp0).size() > 0);
        });
        call("describeReplicaLogDirs", () -> a.describeReplicaLogDirs(List.of(new TopicPartitionReplica(topic, 0, node))).all().get().size());
        call("describeFeatures", () -> {
            FeatureMetadata f = a.describeFeatures().featureMetadata().get();
            return "finalized-metadata.version=" + f.finalizedFeatures().containsKey("metadata.version");
        });
        call("describeAcls", () -> a.describeAcls(AclBindingFilter.ANY).values().get().size());
        call("describeClientQuotas", () -> a.describeClientQuotas(ClientQuotaFilter.all()).entities().get().size());
        call("describeUserScramCredentials", () -> a.describeUserScramCredentials().all().get().size());
        call("listPartitionReassignments", () -> a.listPartitionReassignments().reassignments().get().size());
        call("electLeaders", () -> a.electLeaders(org.apache.kafka.common.ElectionType.PREFERRED, Set.of(tp0)).partitions().get().get(tp0)
                .map(e -> e.getClass().getSimpleName()).orElse("none"));
        call("describeMetadataQuorum", () -> "leader=" + (a.describeMetadataQuorum().quorumInfo().get().leaderId() == node));
        call("deleteTopics", () -> {
            a.deleteTopics(List.of(topic)).all().get();
            Thread.sleep(500);
            return a.listTopics().names().get().contains(topic);
        });
        call("deleteTopics.unknown", () -> a.deleteTopics(List.of(pre + "-nope")).all().get());
        a.close();
        System.exit(0);
    }
}
