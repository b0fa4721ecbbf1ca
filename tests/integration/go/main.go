// Go clients against a broker: franz-go (kgo + kadm) and IBM sarama.
// Each scenario prints tab-separated lines that tests/reference/test_go_clients.py checks.
//
//	go run . franz|sarama BOOTSTRAP TOPIC GROUP
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func out(fields ...any) {
	s := make([]string, len(fields))
	for i, f := range fields {
		s[i] = fmt.Sprint(f)
	}
	fmt.Println(strings.Join(s, "\t"))
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: franz|sarama BOOTSTRAP TOPIC GROUP")
		os.Exit(2)
	}
	bs, topic, group := os.Args[2], os.Args[3], os.Args[4]
	switch os.Args[1] {
	case "franz":
		franz(bs, topic, group)
	case "sarama":
		saramaScenario(bs, topic, group)
	}
}

func franz(bs, topic, group string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs))
	must(err, "client")
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic)
	must(err, "create")
	must(created.Err, "create topic")
	out("CREATED", created.Topic, created.NumPartitions)

	p, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	must(err, "producer")
	var recs []*kgo.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%5)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}}})
	}
	must(p.ProduceSync(ctx, recs...).FirstErr(), "produce")
	p.Close()
	out("PRODUCED", len(recs))

	c, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()))
	must(err, "consumer")
	var got []string
	for len(got) < 30 && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, fmt.Sprintf("%d/%d %s=%s i=%s", r.Partition, r.Offset, r.Key, r.Value, r.Headers[0].Value))
		})
	}
	must(c.CommitUncommittedOffsets(ctx), "commit")
	c.Close()
	sort.Strings(got)
	for _, g := range got {
		out("REC", g)
	}

	offs, err := adm.FetchOffsets(ctx, group)
	must(err, "fetch offsets")
	ends, err := adm.ListEndOffsets(ctx, topic)
	must(err, "end offsets")
	lag := int64(0)
	for p := int32(0); p < 3; p++ {
		o, _ := offs.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		lag += e.Offset - o.At
	}
	out("LAG", lag)
	groups, err := adm.DescribeGroups(ctx, group)
	must(err, "describe groups")
	out("GROUP", groups[group].State, groups[group].Protocol)
	cfg, err := adm.DescribeTopicConfigs(ctx, topic)
	must(err, "describe configs")
	for _, c := range cfg[0].Configs {
		if c.Key == "retention.ms" {
			out("CONFIG", c.Key, *c.Value, c.Source)
		}
	}

	// Transactions: one committed, one aborted; read_committed sees only the first.
	tx, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.TransactionalID("franz-"+group), kgo.DefaultProduceTopic(topic))
	must(err, "txn client")
	for i, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		must(tx.BeginTransaction(), "begin")
		must(tx.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("txn-%d", i))}).FirstErr(), "txn produce")
		must(tx.EndTransaction(ctx, commit), "end")
	}
	tx.Close()
	rc, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	must(err, "rc client")
	n, txnValues := 0, []string{}
	for n < 31 && ctx.Err() == nil {
		rc.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			if strings.HasPrefix(string(r.Value), "txn-") {
				txnValues = append(txnValues, string(r.Value))
			}
		})
	}
	rc.Close()
	out("READ-COMMITTED", n, strings.Join(txnValues, ","))
	dg, err := adm.DeleteGroup(ctx, group)
	must(err, "delete group")
	must(dg.Err, "delete group")
	resp, err := adm.DeleteTopics(ctx, topic)
	must(err, "delete topic")
	must(resp[topic].Err, "delete topic")
	out("DELETED", topic)
	cl.Close()
}

type handler struct {
	want int
	got  chan string
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		hs := []string{}
		for _, h := range m.Headers {
			hs = append(hs, string(h.Key)+"="+string(h.Value))
		}
		h.got <- fmt.Sprintf("%d/%d %s=%s %s", m.Partition, m.Offset, m.Key, m.Value, strings.Join(hs, ","))
		s.MarkMessage(m, "")
		s.Commit()
	}
	return nil
}

func saramaScenario(bs, topic, group string) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Net.MaxOpenRequests = 1
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}

	admin, err := sarama.NewClusterAdmin([]string{bs}, cfg)
	must(err, "admin")
	must(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false), "create")
	must(admin.CreatePartitions(topic, 3, nil, false), "create partitions")
	// Apache Kafka's metadata catches up with CreatePartitions a moment later: wait for it.
	md, err := admin.DescribeTopics([]string{topic})
	for i := 0; err == nil && len(md[0].Partitions) < 3 && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		md, err = admin.DescribeTopics([]string{topic})
	}
	must(err, "describe")
	out("PARTITIONS", len(md[0].Partitions))

	prod, err := sarama.NewSyncProducer([]string{bs}, cfg)
	must(err, "producer")
	for i := 0; i < 20; i++ {
		_, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i%4)),
			Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)), Headers: []sarama.RecordHeader{{Key: []byte("i"), Value: []byte(fmt.Sprint(i))}}})
		must(err, "send")
	}
	must(prod.Close(), "producer close")
	out("PRODUCED", 20)

	cg, err := sarama.NewConsumerGroup([]string{bs}, group, cfg)
	must(err, "group")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := &handler{want: 20, got: make(chan string, 100)}
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "consume:", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	// A rebalance may deliver a record twice (at-least-once): count distinct records.
	var got []string
	seen := map[string]bool{}
	for len(got) < 20 {
		select {
		case g := <-h.got:
			if !seen[g] {
				seen[g] = true
				got = append(got, g)
			}
		case <-ctx.Done():
			must(ctx.Err(), "consume timeout")
		}
	}
	cancel()
	must(cg.Close(), "group close")
	sort.Strings(got)
	for _, g := range got {
		out("REC", g)
	}
	offs, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
	must(err, "offsets")
	total := int64(0)
	for p := int32(0); p < 3; p++ {
		total += offs.GetBlock(topic, p).Offset
	}
	out("COMMITTED-TOTAL", total)
	groups, err := admin.DescribeConsumerGroups([]string{group})
	must(err, "describe group")
	out("GROUP", groups[0].State, groups[0].ProtocolType)
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"cleanup.policy"}})
	must(err, "describe config")
	for _, e := range entries {
		out("CONFIG", e.Name, e.Value)
	}
	must(admin.DeleteConsumerGroup(group), "delete group")
	must(admin.DeleteTopic(topic), "delete topic")
	out("DELETED", topic)
	must(admin.Close(), "admin close")
}
