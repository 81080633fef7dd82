package cn.credit.exchange.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Example client of the credit-supervision event exchange (信用信息交换平台) for a department's Java system.
 *
 * <p>Reports one record, retries safely and verifies the signed receipt:
 *
 * <pre>java -cp 'target/exchange-client.jar:target/lib/*' cn.credit.exchange.client.ExchangeClient \
 *     --url "$INGEST_URL" --token "$TOKEN_AMR" record.json</pre>
 *
 * <p>Prints one JSON line {"status", "attempts", "receipt", "signature_valid", "hash_matches"}; exits 0 when
 * the exchange holds the record and the receipt verifies, 1 when it refused the record, 2 when it could not be
 * reached after every attempt.
 *
 * <p>Safe retries: the record's {@code id} is the idempotency key. The same record sent again after a lost
 * answer (time-out, connection reset, 503) returns the original receipt (200) and is never stored twice.
 */
public final class ExchangeClient {
    private static final Set<Integer> RETRYABLE = Set.of(429, 502, 503, 504);
    private static final int ATTEMPTS = 6;

    /** Canonical JSON: UTF-8, keys sorted, no white space — what the exchange hashes and signs. */
    private static final ObjectMapper CANONICAL =
            new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

    private final HttpClient http;
    private final String url;
    private final String token;

    public ExchangeClient(String url, String token) {
        this.url = url.replaceAll("/+$", "");
        this.token = token;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    /** The answer of the exchange for good: status, attempts used and body. */
    public record Answer(int status, int attempts, JsonNode body) {}

    public Answer postRecord(byte[] record) throws IOException, InterruptedException {
        long delayMillis = 1000;
        for (int attempt = 1; ; attempt++) {
            HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/v1/records"))
                    .timeout(Duration.ofSeconds(10))
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(record))
                    .build();
            long waitMillis = delayMillis;
            try {
                HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                JsonNode body = CANONICAL.readTree(response.body());
                if (!RETRYABLE.contains(response.statusCode()) || attempt == ATTEMPTS) {
                    return new Answer(response.statusCode(), attempt, body);
                }
                waitMillis = response.headers().firstValue("Retry-After")
                        .map(s -> (long) (Double.parseDouble(s) * 1000)).orElse(delayMillis);
            } catch (IOException e) {
                // No answer: the record may or may not be stored. The same id makes the retry safe.
                if (attempt == ATTEMPTS) {
                    throw e;
                }
            }
            Thread.sleep(Math.min(waitMillis, 30_000));
            delayMillis = Math.min(delayMillis * 2, 30_000);
        }
    }

    /** The key that signed the receipt: by its key_id from the key set when it has one, else the current key. */
    public PublicKey publicKey(JsonNode receipt) throws IOException, InterruptedException, GeneralSecurityException {
        String pem;
        if (receipt.has("key_id")) {
            JsonNode keys = CANONICAL.readTree(get("/v1/receipts/public-keys")).get("keys");
            pem = null;
            for (JsonNode key : keys) {
                if (key.get("key_id").asText().equals(receipt.get("key_id").asText())) {
                    pem = key.get("public_key_pem").asText();
                }
            }
            if (pem == null) {
                throw new GeneralSecurityException("no published key has id " + receipt.get("key_id"));
            }
        } else {
            pem = new String(get("/v1/receipts/public-key"), StandardCharsets.US_ASCII);
        }
        String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(base64)));
    }

    /** Ed25519 over the canonical JSON of the receipt without "signature" (every other field, key_id too). */
    public static boolean verifyReceipt(JsonNode receipt, PublicKey key) throws IOException, GeneralSecurityException {
        ObjectNode unsigned = receipt.deepCopy();
        unsigned.remove("signature");
        Signature verifier = Signature.getInstance("Ed25519");
        verifier.initVerify(key);
        verifier.update(canonical(unsigned));
        return verifier.verify(Base64.getDecoder().decode(receipt.get("signature").asText()));
    }

    /** The receipt's "hash": SHA-256 of canonical {"department", "record"}; proves the exchange holds exactly it. */
    public static String recordHash(String department, JsonNode record) throws IOException, GeneralSecurityException {
        Map<String, Object> both = new LinkedHashMap<>();
        both.put("department", department);
        both.put("record", record);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical(both)));
    }

    static byte[] canonical(Object value) throws IOException {
        // Through plain maps and lists, so that ORDER_MAP_ENTRIES_BY_KEYS sorts every level.
        Object plain = CANONICAL.convertValue(value, Object.class);
        return CANONICAL.writeValueAsBytes(plain);
    }

    private byte[] get(String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(10)).build();
        HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        if (response.statusCode() != 200) {
            throw new IOException("GET " + path + " answered " + response.statusCode());
        }
        return response.body();
    }

    public static void main(String[] args) throws Exception {
        String url = null;
        String token = null;
        String file = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url" -> url = args[++i];
                case "--token" -> token = args[++i];
                default -> file = args[i];
            }
        }
        if (url == null || token == null || file == null) {
            System.err.println("usage: ExchangeClient --url URL --token TOKEN record.json");
            System.exit(2);
        }
        byte[] record = Files.readAllBytes(Path.of(file));
        ExchangeClient client = new ExchangeClient(url, token);
        Answer answer;
        try {
            answer = client.postRecord(record);
        } catch (IOException e) {
            System.out.println(CANONICAL.writeValueAsString(Map.of("error", "the exchange could not be reached: " + e)));
            System.exit(2);
            return;
        }
        ObjectNode result = CANONICAL.createObjectNode();
        result.put("status", answer.status());
        result.put("attempts", answer.attempts());
        if (answer.status() != 200 && answer.status() != 202) {
            result.setAll((ObjectNode) answer.body());
            System.out.println(CANONICAL.writeValueAsString(result));
            System.exit(1);
        }
        JsonNode receipt = answer.body().get("receipt");
        boolean valid = verifyReceipt(receipt, client.publicKey(receipt));
        boolean matches = receipt.get("hash").asText()
                .equals(recordHash(receipt.get("department").asText(), CANONICAL.readTree(record)));
        result.set("receipt", receipt);
        result.put("signature_valid", valid);
        result.put("hash_matches", matches);
        System.out.println(CANONICAL.writeValueAsString(result));
        System.exit(valid && matches ? 0 : 1);
    }
}
