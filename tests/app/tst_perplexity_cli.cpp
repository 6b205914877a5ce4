// `needlework perplexity` through the real binary on stories260K: the JSON report, usage errors,
// and --calibrate for latent:R (at full rank the factors are exact with or without calibration,
// so the perplexity must equal full's; at a low rank calibration must change the factors).
#include "tests/support/conformance_qt.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

class TestPerplexityCli : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void usageErrors_data();
    void usageErrors();
    void calibrationAtFullRankMatchesFull();
    void calibrationChangesALowRank();

private:
    struct Result {
        int code = -1;
        QJsonObject report;
        QByteArray err;
    };
    Result run(QStringList args);
    QString m_exe, m_model, m_scored, m_calibration;
    QProcessEnvironment m_env;
    QTemporaryDir m_home;
};

void TestPerplexityCli::initTestCase()
{
    m_exe = qEnvironmentVariable("NW_BINARY_DIR") + QStringLiteral("/bin/needlework");
    QVERIFY2(QFileInfo(m_exe).isExecutable(), qPrintable(m_exe + QStringLiteral(" is missing: build the needlework target")));
    m_model = nw::test::findStories260K();
    if (m_model.isEmpty())
        QSKIP("../shared/conformance/models/stories260K.gguf is absent: no model to score with");
    const QString sample = qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/resources/sample/");
    m_scored = sample + QStringLiteral("Apache-2.0.txt");
    m_calibration = sample + QStringLiteral("MPL-2.0.txt");
    // A private cache, so factors computed here never come from (or go to) the user's cache.
    QVERIFY(m_home.isValid());
    m_env = QProcessEnvironment::systemEnvironment();
    m_env.insert(QStringLiteral("HOME"), m_home.path());
    m_env.insert(QStringLiteral("XDG_CACHE_HOME"), m_home.path() + QStringLiteral("/cache"));
}

TestPerplexityCli::Result TestPerplexityCli::run(QStringList args)
{
    QProcess process;
    process.setProcessEnvironment(m_env);
    process.start(m_exe, QStringList{"perplexity", "--model", m_model, "--file", m_scored, "--ctx", "128",
                                     "--threads", "1", "--json"} + args);
    if (!process.waitForFinished(240000))
        return {};
    Result r;
    r.code = process.exitCode();
    r.err = process.readAllStandardError();
    r.report = QJsonDocument::fromJson(process.readAllStandardOutput()).object();
    return r;
}

void TestPerplexityCli::usageErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addRow("calibrate with full") << QStringList{"--kv", "full", "--calibrate", "x.txt"};
    QTest::addRow("calibrate with q8") << QStringList{"--kv", "full+q8", "--calibrate", "x.txt"};
    QTest::addRow("ctx too small") << QStringList{"--ctx", "2"};
}

void TestPerplexityCli::usageErrors()
{
    QFETCH(QStringList, args);
    const Result r = run(args);
    QCOMPARE(r.code, 2);
    QCOMPARE(r.err.count('\n'), 1);
}

void TestPerplexityCli::calibrationAtFullRankMatchesFull()
{
    // stories260K: 4 KV heads × head_dim 8 = 32 key and value columns per layer, so latent:32 is
    // full rank.
    const Result full = run({"--kv", "full"});
    QCOMPARE(full.code, 0);
    const Result latent = run({"--kv", "latent:32", "--calibrate", m_calibration});
    QVERIFY2(latent.code == 0, latent.err.constData());
    QCOMPARE(latent.report.value(QStringLiteral("calibration")).toString(), m_calibration);
    QCOMPARE(latent.report.value(QStringLiteral("kv")).toString(), QStringLiteral("latent:32"));
    const double a = full.report.value(QStringLiteral("ppl")).toDouble();
    const double b = latent.report.value(QStringLiteral("ppl")).toDouble();
    QVERIFY2(a > 1.0 && std::abs(a - b) <= 1e-3 * a, qPrintable(QStringLiteral("full %1, latent:32 calibrated %2").arg(a).arg(b)));
}

void TestPerplexityCli::calibrationChangesALowRank()
{
    const Result plain = run({"--kv", "latent:8"});
    QCOMPARE(plain.code, 0);
    QVERIFY(plain.report.value(QStringLiteral("calibration")).isNull());
    const Result calibrated = run({"--kv", "latent:8", "--calibrate", m_calibration});
    QCOMPARE(calibrated.code, 0);
    QVERIFY(calibrated.err.contains("calibrating the latent factors on"));
    const double a = plain.report.value(QStringLiteral("ppl")).toDouble();
    const double b = calibrated.report.value(QStringLiteral("ppl")).toDouble();
    QVERIFY2(a > 1.0 && b > 1.0 && std::abs(a - b) > 1e-4 * a,
             qPrintable(QStringLiteral("latent:8 %1, calibrated %2: the calibration had no effect").arg(a).arg(b)));
}

QTEST_GUILESS_MAIN(TestPerplexityCli)
#include "tst_perplexity_cli.moc"
