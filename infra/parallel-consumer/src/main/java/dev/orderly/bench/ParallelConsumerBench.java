package dev.orderly.bench;

import io.confluent.parallelconsumer.ParallelConsumerOptions;
import io.confluent.parallelconsumer.ParallelConsumerOptions.CommitMode;
import io.confluent.parallelconsumer.ParallelConsumerOptions.ProcessingOrder;
import io.confluent.parallelconsumer.ParallelStreamProcessor;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Consumes a pre-filled topic with Confluent's Parallel Consumer: KEY ordering, a given concurrency, a handler
 * that sleeps a fixed time. Counts from the first handler call to the `events`-th completion and prints one
 * JSON line: {"arm":"parallel-consumer","events":..,"seconds":..,"eventsPerSecond":..}.
 *
 * Usage: java -jar parallel-consumer-bench.jar <brokers> <topic> <groupId> <concurrency> <handlerMs> <events> [ordering]
 */
public final class ParallelConsumerBench {
  public static void main(String[] args) throws Exception {
    if (args.length < 6) {
      System.err.println("usage: <brokers> <topic> <groupId> <concurrency> <handlerMs> <events> [KEY|PARTITION|UNORDERED]");
      System.exit(2);
    }
    String brokers = args[0];
    String topic = args[1];
    String groupId = args[2];
    int concurrency = Integer.parseInt(args[3]);
    long handlerMs = Long.parseLong(args[4]);
    long events = Long.parseLong(args[5]);
    ProcessingOrder ordering = ProcessingOrder.valueOf(args.length > 6 ? args[6] : "KEY");

    Properties properties = new Properties();
    properties.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    properties.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
    properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    properties.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(properties);

    ParallelConsumerOptions<byte[], byte[]> options = ParallelConsumerOptions.<byte[], byte[]>builder()
        .ordering(ordering)
        .maxConcurrency(concurrency)
        .commitMode(CommitMode.PERIODIC_CONSUMER_ASYNCHRONOUS)
        .consumer(consumer)
        .build();
    ParallelStreamProcessor<byte[], byte[]> processor = ParallelStreamProcessor.createEosStreamProcessor(options);

    AtomicLong firstStartNanos = new AtomicLong(0);
    AtomicLong completed = new AtomicLong(0);
    AtomicLong lastNanos = new AtomicLong(0);
    CountDownLatch done = new CountDownLatch(1);
    long startedAt = System.nanoTime();
    processor.subscribe(List.of(topic));
    processor.poll(context -> {
      firstStartNanos.compareAndSet(0, System.nanoTime());
      try {
        Thread.sleep(handlerMs);
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        return;
      }
      long count = completed.incrementAndGet();
      if (count == events) {
        lastNanos.set(System.nanoTime());
        done.countDown();
      }
    });
    boolean finished = done.await(600, TimeUnit.SECONDS);
    long end = finished ? lastNanos.get() : System.nanoTime();
    double seconds = (end - firstStartNanos.get()) / 1e9;
    long handled = Math.min(completed.get(), events);
    System.out.printf(
        "{\"arm\":\"parallel-consumer\",\"finished\":%s,\"events\":%d,\"seconds\":%.4f,\"eventsPerSecond\":%.1f,\"startupSeconds\":%.3f}%n",
        finished, handled, seconds, handled / seconds, (firstStartNanos.get() - startedAt) / 1e9);
    System.out.flush();
    processor.closeDontDrainFirst(Duration.ofSeconds(10));
    System.exit(finished ? 0 : 1);
  }
}
