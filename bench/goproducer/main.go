// goproducer: the bench's second producer client (franz-go). It sends `-count` records of
// `-size` bytes to one topic as fast as the client can and prints one JSON line:
// {"messages", "bytes", "seconds", "errors", "first_error", "client_cpu_s"}.
//
// Why a second client: confluent-kafka from Python tops out near 1,000,000 records/s of
// 100 B on this machine, and a broker that does nothing (the bench's sink) gets no more
// than a real one, so its 100 B figure measures the client. franz-go spends a fraction of
// that CPU per record, and the broker's cost shows. The settings mirror the Python
// producer's (bench/workloads.py THROUGHPUT_PRODUCER): acks=all, no idempotence, linger
// 5 ms, batches up to 1 MB, no compression.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type result struct {
	Messages   int     `json:"messages"`
	Bytes      int     `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error"`
	ClientCPU  float64 `json:"client_cpu_s"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap server")
	topic := flag.String("topic", "", "topic to produce to")
	count := flag.Int("count", 1_000_000, "records to send")
	size := flag.Int("size", 100, "value size in bytes")
	flag.Parse()
	if *topic == "" || *count <= 0 || *size < 0 {
		fmt.Fprintln(os.Stderr, "goproducer: -topic, a positive -count and a size >= 0 are required")
		os.Exit(2)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(*brokers),
		kgo.DefaultProduceTopic(*topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1_000_000),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(1_000_000),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goproducer:", err)
		os.Exit(1)
	}
	defer cl.Close()
	ctx := context.Background()
	// Metadata and the first connection are not timed, as with the Python producer's
	// warm start (its first produce call connects in the background).
	if err := cl.Ping(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "goproducer: no broker answers:", err)
		os.Exit(1)
	}
	value := make([]byte, *size)
	for i := range value {
		value[i] = 'x'
	}
	var mu sync.Mutex
	res := result{Messages: *count, Bytes: *count * *size}
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if res.Errors == 0 {
				res.FirstError = err.Error()
			}
			res.Errors++
			mu.Unlock()
		}
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	for i := 0; i < *count; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "goproducer: flush:", err)
		os.Exit(1)
	}
	res.Seconds = time.Since(start).Seconds()
	res.ClientCPU = cpuSeconds() - cpu0
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Errors > 0 {
		os.Exit(1)
	}
}
