// Parquet decryption for Spark: the footer key of an encrypted file (uniform mode, written by PyArrow)
// is read from a 0600 file in a private folder, named by key id. Spark's configuration and query plans
// only ever carry the folder and the key id, never the key. Compiled by guichet.custodian.spark.
package guichet.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.crypto.DecryptionPropertiesFactory;
import org.apache.parquet.crypto.FileDecryptionProperties;
import org.apache.parquet.crypto.ParquetCryptoRuntimeException;

public final class GuichetDecryptionFactory implements DecryptionPropertiesFactory {
  public static final String KEY_DIR = "guichet.parquet.key.dir";
  public static final String KEY_ID = "guichet.parquet.key.id";

  @Override
  public FileDecryptionProperties getFileDecryptionProperties(Configuration conf, Path file) {
    String dir = conf.get(KEY_DIR);
    String id = conf.get(KEY_ID);
    if (dir == null || id == null) {
      return null; // no key named: plaintext files read as usual, encrypted ones are refused by Parquet
    }
    if (!id.matches("[A-Za-z0-9_-]{1,64}")) {
      throw new ParquetCryptoRuntimeException("guichet: malformed key id");
    }
    byte[] key;
    try {
      key = Files.readAllBytes(Paths.get(dir, id + ".key"));
    } catch (IOException e) {
      throw new ParquetCryptoRuntimeException("guichet: no key " + id + " for " + file.getName());
    }
    if (key.length != 16 && key.length != 24 && key.length != 32) {
      throw new ParquetCryptoRuntimeException("guichet: key " + id + " has a bad length");
    }
    return FileDecryptionProperties.builder().withFooterKey(key).build();
  }
}
