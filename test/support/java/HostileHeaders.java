// Produces records with hostile header names through Kafka's own Java producer (not kafkajs), one per partition.
// Usage (from the repo root):
//   java -cp 'infra/kafka/target/libs/*' test/support/java/HostileHeaders.java <brokers> <topic> <partitions> <value> <headerName>...
// Each record: key "hostile-<partition>", the given value's UTF-8 bytes, and one header per name, in order, whose
// value is "v<index>" (names may repeat and may be empty). Prints "ok" once every record is acknowledged.
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class HostileHeaders {
  public static void main(String[] args) throws Exception {
    Properties properties = new Properties();
    properties.put("bootstrap.servers", args[0]);
    properties.put("acks", "all");
    properties.put("enable.idempotence", "true");
    String topic = args[1];
    int partitions = Integer.parseInt(args[2]);
    byte[] value = args[3].getBytes(StandardCharsets.UTF_8);
    List<Header> headers = new ArrayList<>();
    for (int index = 4; index < args.length; index++) {
      headers.add(new RecordHeader(args[index], ("v" + (index - 4)).getBytes(StandardCharsets.UTF_8)));
    }
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(properties, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (int partition = 0; partition < partitions; partition++) {
        byte[] key = ("hostile-" + partition).getBytes(StandardCharsets.UTF_8);
        producer.send(new ProducerRecord<>(topic, partition, key, value, headers)).get();
      }
    }
    System.out.println("ok");
  }
}
