// A producer that is not kafkajs: Kafka's own Java client (kafka-clients) writes the batches, with the
// compression it is told, so a test sees exactly what a Java service sends. Usage (from the repo root):
//   java -cp 'infra/kafka/target/libs/*' test/support/java/ForeignProducer.java <bootstrap> <topic> < records.tsv
// Each stdin line: <compression> TAB <partition> TAB <key base64, or -> TAB <value base64, or ->
// compression is none, gzip, snappy, lz4 or zstd. Consecutive lines with the same compression are sent and
// flushed together, so each run of lines becomes one batch per partition; runs are written in line order.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class ForeignProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    Map<String, KafkaProducer<byte[], byte[]>> producers = new HashMap<>();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    List<String[]> run = new ArrayList<>();
    int sent = 0;
    for (String line = in.readLine(); ; line = in.readLine()) {
      String[] fields = line == null ? null : line.split("\t", -1);
      if (!run.isEmpty() && (fields == null || !fields[0].equals(run.get(0)[0]))) {
        KafkaProducer<byte[], byte[]> producer = producers.computeIfAbsent(run.get(0)[0], (compression) -> producerFor(bootstrap, compression));
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (String[] record : run) {
          acks.add(producer.send(new ProducerRecord<>(topic, Integer.parseInt(record[1]), bytes(record[2]), bytes(record[3]))));
        }
        producer.flush();
        for (Future<RecordMetadata> ack : acks) ack.get();
        sent += run.size();
        run.clear();
      }
      if (fields == null) break;
      if (fields.length == 4) run.add(fields);
    }
    for (KafkaProducer<byte[], byte[]> producer : producers.values()) producer.close();
    System.out.println("sent " + sent);
  }

  private static byte[] bytes(String field) {
    return field.equals("-") ? null : Base64.getDecoder().decode(field);
  }

  private static KafkaProducer<byte[], byte[]> producerFor(String bootstrap, String compression) {
    Properties properties = new Properties();
    properties.put("bootstrap.servers", bootstrap);
    properties.put("compression.type", compression);
    properties.put("acks", "all");
    properties.put("linger.ms", "50");
    properties.put("batch.size", "1048576");
    properties.put("key.serializer", ByteArraySerializer.class.getName());
    properties.put("value.serializer", ByteArraySerializer.class.getName());
    return new KafkaProducer<>(properties);
  }
}
