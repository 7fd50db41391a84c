// Reference partitions computed by Kafka's own Java code: the partition the default partitioner of the Java
// producer (kafka-clients) picks for a key. Usage (from the repo root):
//   java -cp 'infra/kafka/target/libs/*' test/support/java/KeyPartitions.java <partitions> <key>...
// Prints one line per key: <key> TAB <partition>.
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

public class KeyPartitions {
  public static void main(String[] args) {
    int partitions = Integer.parseInt(args[0]);
    for (int index = 1; index < args.length; index++) {
      byte[] key = args[index].getBytes(StandardCharsets.UTF_8);
      int partition = BuiltInPartitioner.partitionForKey(key, partitions);
      // The same formula spelled out, so a change in either shows up.
      int spelledOut = Utils.toPositive(Utils.murmur2(key)) % partitions;
      if (partition != spelledOut) throw new IllegalStateException("partitionForKey and murmur2 disagree for " + args[index]);
      System.out.println(args[index] + "\t" + partition);
    }
  }
}
