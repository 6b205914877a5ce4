// The remote engine's wire formats without a server: /metrics fixtures of vLLM, SGLang,
// llama-server and `needlework serve` (tests/data/remote_metrics, written from their documented
// metric names) read into the KV meter's figures, the Prometheus text parser's edge cases, the
// server-sent events reader fed in awkward pieces, and where the API key comes from.
#include "app/ask_report.h"
#include "app/remote_engine.h"
#include "app/remote_metrics.h"
#include "common/error.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace nw::app;

namespace {

std::string fixture(const char *name)
{
    QFile file(
        qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/remote_metrics/") + QLatin1String(name));
    if (!file.open(QIODevice::ReadOnly))
        qFatal("fixture %s is missing", name);
    return file.readAll().toStdString();
}

} // namespace

class TestRemoteMetrics : public QObject {
    Q_OBJECT
private slots:
    void parserEdgeCases();
    void vllm();
    void vllmV0();
    void sglang();
    void llamaServer();
    void needlework();
    void unknownServer();
    void serverSentEvents_data();
    void serverSentEvents();
    void apiKey();
};

void TestRemoteMetrics::parserEdgeCases()
{
    const std::string text = "# HELP x A help line with {braces} 1\n"
                             "\n"
                             "plain 42\r\n"
                             "with_ts{a=\"1\"} 3.5 1700000000000\n"
                             "escaped{path=\"C:\\\\dir\",say=\"a \\\"quote\\\"\",nl=\"x\\ny\"} 1e3\n"
                             "spaces{ a = \"b\" , } -2\n"
                             "special_nan NaN\n"
                             "special_inf{le=\"+Inf\"} +Inf\n"
                             "broken{a=\"unterminated} 1\n"
                             "no_value\n"
                             "bad_value 1.2.3\n";
    const std::vector<PrometheusSample> samples = parsePrometheusText(text);
    QCOMPARE(samples.size(), std::size_t(6));
    QCOMPARE(samples[0].name, std::string("plain"));
    QCOMPARE(samples[0].value, 42.0);
    QCOMPARE(samples[1].name, std::string("with_ts"));
    QCOMPARE(samples[1].value, 3.5);
    QCOMPARE(samples[1].labels.at("a"), std::string("1"));
    QCOMPARE(samples[2].labels.at("path"), std::string("C:\\dir"));
    QCOMPARE(samples[2].labels.at("say"), std::string("a \"quote\""));
    QCOMPARE(samples[2].labels.at("nl"), std::string("x\ny"));
    QCOMPARE(samples[2].value, 1000.0);
    QCOMPARE(samples[3].labels.at("a"), std::string("b"));
    QCOMPARE(samples[3].value, -2.0);
    QVERIFY(std::isnan(samples[4].value));
    QVERIFY(std::isinf(samples[5].value));
}

void TestRemoteMetrics::vllm()
{
    const RemoteKvFigures f = remoteKvFigures(fixture("vllm.prom"));
    QCOMPARE(f.server, RemoteServerKind::Vllm);
    // Two engines: requests add up, the fuller engine's usage is the one that preempts.
    QCOMPARE(f.usage.value(), 0.57);
    QCOMPARE(f.running.value(), std::int64_t(5));
    QCOMPARE(f.waiting.value(), std::int64_t(1));
    QCOMPARE(f.prefixHits.value(), 5000.0);
    QCOMPARE(f.prefixQueries.value(), 20000.0);
    QCOMPARE(f.prefixHitRate.value(), 0.25);
    QVERIFY(!f.bytesUsed); // vLLM says fractions, not bytes
    QCOMPARE(remoteKvLine(f), std::string("vllm: KV 57% in use, 5 running, 1 waiting, prefix cache 25% hits"));
    const nlohmann::json j = remoteKvToJson(f);
    QCOMPARE(j["server"].get<std::string>(), std::string("vllm"));
    QCOMPARE(j["kv_usage"].get<double>(), 0.57);
    QVERIFY(!j.contains("kv_bytes_used"));
}

void TestRemoteMetrics::vllmV0()
{
    const RemoteKvFigures f = remoteKvFigures(fixture("vllm_v0.prom"));
    QCOMPARE(f.server, RemoteServerKind::Vllm);
    QCOMPARE(f.usage.value(), 0.9);
    QCOMPARE(f.running.value(), std::int64_t(1));
    QCOMPARE(f.waiting.value(), std::int64_t(4));
    QVERIFY(!f.prefixHitRate);
}

void TestRemoteMetrics::sglang()
{
    const RemoteKvFigures f = remoteKvFigures(fixture("sglang.prom"));
    QCOMPARE(f.server, RemoteServerKind::Sglang);
    QCOMPARE(f.usage.value(), 0.28);
    QCOMPARE(f.prefixHitRate.value(), 0.0075);
    QCOMPARE(f.running.value(), std::int64_t(7));
    QCOMPARE(f.waiting.value(), std::int64_t(2));
    QCOMPARE(f.tokensCached.value(), std::int64_t(91234));
    QCOMPARE(remoteKvLine(f),
        std::string("sglang: KV 28% in use, 91234 tokens cached, 7 running, 2 waiting, prefix cache 1% hits"));
}

void TestRemoteMetrics::llamaServer()
{
    const RemoteKvFigures f = remoteKvFigures(fixture("llama_server.prom"));
    QCOMPARE(f.server, RemoteServerKind::LlamaServer);
    QCOMPARE(f.usage.value(), 0.125);
    QCOMPARE(f.tokensCached.value(), std::int64_t(512));
    QCOMPARE(f.running.value(), std::int64_t(1));
    QCOMPARE(f.waiting.value(), std::int64_t(3));
}

void TestRemoteMetrics::needlework()
{
    const RemoteKvFigures f = remoteKvFigures(fixture("needlework.prom"));
    QCOMPARE(f.server, RemoteServerKind::Needlework);
    // Two slots: 64 KiB + 32 KiB used, 2 × 128 KiB reserved, baselines 512 + 256 KiB (8×).
    QCOMPARE(f.bytesUsed.value(), std::uint64_t(98304));
    QCOMPARE(f.bytesReserved.value(), std::uint64_t(262144));
    QCOMPARE(f.mhaF16Bytes.value(), std::uint64_t(786432));
    QCOMPARE(f.savingVsMha(), 8.0);
    QCOMPARE(f.tokensCached.value(), std::int64_t(384));
    QCOMPARE(f.capacityTokens.value(), std::int64_t(2048));
    QCOMPARE(f.usage.value(), 0.1875);
    QCOMPARE(f.running.value(), std::int64_t(2));
    QCOMPARE(f.waiting.value(), std::int64_t(4));
    QCOMPARE(f.prefixHits.value(), 6.0);
    QCOMPARE(f.kvMode, std::string("latent:32+q8"));
    const nlohmann::json j = remoteKvToJson(f);
    QCOMPARE(j["kv_bytes_used"].get<std::uint64_t>(), std::uint64_t(98304));
    QCOMPARE(j["saving_vs_mha_f16"].get<double>(), 8.0);
    QCOMPARE(j["kv_mode"].get<std::string>(), std::string("latent:32+q8"));
}

void TestRemoteMetrics::unknownServer()
{
    const RemoteKvFigures f = remoteKvFigures("# just a process\nprocess_cpu_seconds_total 12.5\n");
    QVERIFY(f.empty());
    QVERIFY(!f.usage);
    QVERIFY(remoteKvFigures("").empty());
}

void TestRemoteMetrics::serverSentEvents_data()
{
    QTest::addColumn<QStringList>("pieces");
    QTest::addColumn<QStringList>("expected");
    const QStringList two = { "{\"a\":1}", "[DONE]" };
    QTest::addRow("whole") << QStringList { "data: {\"a\":1}\n\ndata: [DONE]\n\n" } << two;
    QTest::addRow("cut inside a line") << QStringList { "da", "ta: {\"a\"", ":1}\n", "\nda", "ta: [DONE]\n\n" } << two;
    QTest::addRow("crlf") << QStringList { "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n" } << two;
    QTest::addRow("comments and other fields")
        << QStringList { ": keep-alive\n\nevent: message\nid: 7\ndata: {\"a\":1}\n\n", "retry: 10\ndata: [DONE]\n\n" }
        << two;
    QTest::addRow("no space after the colon") << QStringList { "data:{\"a\":1}\n\ndata:[DONE]\n\n" } << two;
    QTest::addRow("two data lines join") << QStringList { "data: x\ndata: y\n\n" } << QStringList { "x\ny" };
    QTest::addRow("last event unterminated") << QStringList { "data: {\"a\":1}\n\ndata: [DONE]" } << two;
}

void TestRemoteMetrics::serverSentEvents()
{
    QFETCH(QStringList, pieces);
    QFETCH(QStringList, expected);
    QStringList got;
    SseReader reader([&got](std::string_view data) { got << QString::fromUtf8(data.data(), qsizetype(data.size())); });
    for (const QString &piece : pieces)
        reader.feed(piece.toStdString());
    reader.finish();
    QCOMPARE(got, expected);
}

void TestRemoteMetrics::apiKey()
{
    QTemporaryDir dir;
    const QString keyFile = dir.filePath(QStringLiteral("key"));
    QFile file(keyFile);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("  s3cret-key \nsecond line\n");
    file.close();
    qputenv("NEEDLEWORK_API_KEY", "from-env");
    QCOMPARE(remoteApiKey(keyFile), std::string("s3cret-key")); // the file wins, first line, trimmed
    QCOMPARE(remoteApiKey(QString()), std::string("from-env"));
    qunsetenv("NEEDLEWORK_API_KEY");
    QCOMPARE(remoteApiKey(QString()), std::string());
    QVERIFY_THROWS_EXCEPTION(nw::Error, remoteApiKey(dir.filePath(QStringLiteral("missing"))));
    QFile empty(dir.filePath(QStringLiteral("empty")));
    QVERIFY(empty.open(QIODevice::WriteOnly));
    empty.close();
    QVERIFY_THROWS_EXCEPTION(nw::Error, remoteApiKey(empty.fileName()));
}

QTEST_GUILESS_MAIN(TestRemoteMetrics)
#include "tst_remote_metrics.moc"
