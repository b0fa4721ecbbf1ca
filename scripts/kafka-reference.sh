#!/usr/bin/env bash
# The reference Apache Kafka for tests and benchmarks, assembled from Maven
# Central (tests/reference/pom.xml) into a cache outside the repo.
#
#   scripts/kafka-reference.sh assemble          jars into $CACHE (idempotent); prints the libs dir
#   scripts/kafka-reference.sh classpath         the classpath of broker + tools + streams + clients
#   scripts/kafka-reference.sh run CLASS ARGS..  a Kafka tool, e.g. org.apache.kafka.tools.GetOffsetShell
#   scripts/kafka-reference.sh broker DIR [ARGS]  format + start a KRaft single node in the foreground
#                                                (port $KAFKA_PORT, default 19092; stop it with Ctrl-C);
#                                                ARGS go to kafka.Kafka, e.g. --override log.flush.interval.messages=1
#
# CACHE is $CHRONIK_REF_CACHE, default ~/.cache/chronik-ref. Versions: $KAFKA_VERSION
# (default 4.1.0) and $KAFKA_CLIENTS_3_VERSION (default 3.9.1, the 3.x client line).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${CHRONIK_REF_CACHE:-$HOME/.cache/chronik-ref}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.0}"
KAFKA_CLIENTS_3_VERSION="${KAFKA_CLIENTS_3_VERSION:-3.9.1}"
LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
CLIENTS3="$CACHE/clients-$KAFKA_CLIENTS_3_VERSION"

assemble() {
    if [ ! -f "$LIBS/.complete" ]; then
        rm -rf "$LIBS"
        mvn -q -B -Dstyle.color=never -f tests/reference/pom.xml -Dkafka.version="$KAFKA_VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" >&2
        touch "$LIBS/.complete"
    fi
    if [ ! -f "$CLIENTS3/.complete" ]; then
        rm -rf "$CLIENTS3"
        mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="org.apache.kafka:kafka-clients:$KAFKA_CLIENTS_3_VERSION" \
            -DoutputDirectory="$CLIENTS3" >&2
        touch "$CLIENTS3/.complete"
    fi
    echo "$LIBS"
}

case "${1:-}" in
    assemble) assemble ;;
    classpath) assemble >/dev/null; echo "$LIBS/*" ;;
    run)
        shift; assemble >/dev/null
        exec java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$LIBS/*" "$@" ;;
    broker)
        dir="${2:?usage: broker DIR}"; assemble >/dev/null
        port="${KAFKA_PORT:-19092}"; cport="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
        mkdir -p "$dir"
        cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/logs
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
PROPS
        if [ ! -f "$dir/logs/meta.properties" ]; then
            java -Xmx256m -cp "$LIBS/*" kafka.tools.StorageTool format \
                -t "$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid)" -c "$dir/server.properties"
        fi
        shift 2
        exec java -Xmx512m -Xms256m -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" "$@" ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
esac
