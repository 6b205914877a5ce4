// The KV planner lays out the bytes of every KV mode the engine has — full, mla, latent:R, each
// plain, +q8 and +q4 — for an architecture or the loaded model and a context typed as 8k or 8192,
// marks the modes a shape cannot use with the reason, and explains reserved versus used.
// Expected figures are worked by hand from the models' published config.json and the row formats
// (f16: 2 bytes a value; q8: 34 bytes and q4: 18 bytes per 32 values).
#include "ui/kv_planner.h"

#include <QComboBox>
#include <QLineEdit>
#include <QTableWidget>
#include <QTest>

using nw::ui::KvPlanner;

namespace {

int rowOf(QTableWidget *t, const QString &mode)
{
    for (int r = 0; r < t->rowCount(); ++r)
        if (t->item(r, KvPlanner::ModeColumn)->text() == mode)
            return r;
    return -1;
}

nw::HParams tinyGqa()
{
    // 2 layers, 4 heads, 2 KV heads, head dim 8: full f16 2 × 2 × (8 + 8) × 2 = 128 B/token;
    // MHA f16 2 × 4 × 16 × 2 = 256 B/token.
    nw::HParams hp;
    hp.arch = "llama";
    hp.nLayers = 2;
    hp.nEmbd = 32;
    hp.nHeads = 4;
    hp.nKvHeads = 2;
    hp.headDimK = 8;
    hp.headDimV = 8;
    hp.nRot = 8;
    return hp;
}

} // namespace

class TestKvPlanner : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates)); }
    void figuresPerMode_data();
    void figuresPerMode();
    void everyModeOfTheEngine();
    void loadedModelEntry();
    void contextAcceptsSuffixes();
    void reservedIsExplained();
};

void TestKvPlanner::figuresPerMode_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<QString>("ctx");
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("perToken");
    QTest::addColumn<QString>("used");
    QTest::addColumn<QString>("saving");
    // Llama-3.1-8B: 32 layers, 32 heads, 8 KV heads, head dim 128.
    // MHA f16: 32 × 32 × 256 × 2 = 524288 B/token; × 8192 = 4 GiB.
    QTest::addRow("8B baseline") << "Llama-3.1-8B"
                                 << "8k"
                                 << "MHA f16 (baseline)"
                                 << "524,288"
                                 << "4.00 GiB"
                                 << "1.00×";
    // full f16: 32 × 8 × (128 + 128) × 2 = 131072 B/token; × 8192 = 1 GiB; saving 4.
    QTest::addRow("8B full") << "Llama-3.1-8B"
                             << "8192"
                             << "full"
                             << "131,072"
                             << "1.00 GiB"
                             << "4.00×";
    // full+q8: 2048 values = 64 groups × 34 = 2176 B a layer, × 32 = 69632 B/token; × 8192 = 544 MiB; 7.53.
    QTest::addRow("8B full+q8") << "Llama-3.1-8B"
                                << "8k"
                                << "full+q8"
                                << "69,632"
                                << "544.0 MiB"
                                << "7.53×";
    // latent:64: 64 + 64 values × 2 = 256 B a layer, × 32 = 8192 B/token; × 8192 = 64 MiB; 64.
    QTest::addRow("8B latent:64") << "Llama-3.1-8B"
                                  << "8k"
                                  << "latent:64"
                                  << "8,192"
                                  << "64.0 MiB"
                                  << "64.0×";
    // latent:64+q4: 128 values = 4 groups × 18 = 72 B a layer, × 32 = 2304 B/token; × 8192 = 18 MiB; 227.6.
    QTest::addRow("8B latent:64+q4") << "Llama-3.1-8B"
                                     << "8k"
                                     << "latent:64+q4"
                                     << "2,304"
                                     << "18.0 MiB"
                                     << "227.6×";
    // DeepSeek-V2-Lite: 27 layers, 16 heads, kv_lora_rank 512, rope 64, nope 128, v 128.
    // full f16: 27 × 16 × (192 + 128) × 2 = 276480 B/token (= the MHA baseline);
    // mla: 27 × (512 + 64) × 2 = 31104 B/token; × 1024 = 30.4 MiB; saving 276480 / 31104 = 8.89.
    QTest::addRow("V2-Lite mla") << "DeepSeek-V2-Lite"
                                 << "1024"
                                 << "mla"
                                 << "31,104"
                                 << "30.4 MiB"
                                 << "8.89×";
    QTest::addRow("V2-Lite full") << "DeepSeek-V2-Lite"
                                  << "1k"
                                  << "full"
                                  << "276,480"
                                  << "270.0 MiB"
                                  << "1.00×";
    // Gemma-3-4B: 34 layers, 4 KV heads of 256; every sixth layer is global (5 of 34), the other
    // 29 keep a 1024-token window. full f16: 2 × 4 × 256 × 2 = 4096 B a layer and token, × (5 ×
    // 32768 + 29 × 1024) = 792,723,456 B = 756.0 MiB, 24,192 B/token on average; MHA f16 34 × 8 ×
    // 512 × 2 = 278,528 B/token: 11.5×. (Counting every layer at the full context gave 4.25 GiB.)
    QTest::addRow("Gemma-3-4B full") << "Gemma-3-4B"
                                     << "32k"
                                     << "full"
                                     << "24,192"
                                     << "756.0 MiB"
                                     << "11.5×";
    // mla+q8: 576 values = 18 groups × 34 = 612 B a layer, × 27 = 16524 B/token; 16.73.
    QTest::addRow("V2-Lite mla+q8") << "DeepSeek-V2-Lite"
                                    << "1k"
                                    << "mla+q8"
                                    << "16,524"
                                    << "16.1 MiB"
                                    << "16.7×";
}

void TestKvPlanner::figuresPerMode()
{
    QFETCH(QString, arch);
    QFETCH(QString, ctx);
    QFETCH(QString, mode);
    QFETCH(QString, perToken);
    QFETCH(QString, used);
    QFETCH(QString, saving);
    KvPlanner planner;
    planner.selectArchitecture(arch);
    planner.setContextText(ctx);
    QCOMPARE(planner.architectureBox()->currentText(), arch);
    QTableWidget *t = planner.table();
    const int r = rowOf(t, mode);
    QVERIFY2(r >= 0, qPrintable(mode));
    QCOMPARE(t->item(r, KvPlanner::PerTokenColumn)->text(), perToken);
    QCOMPARE(t->item(r, KvPlanner::UsedColumn)->text(), used);
    QCOMPARE(t->item(r, KvPlanner::SavingColumn)->text(), saving);
}

void TestKvPlanner::everyModeOfTheEngine()
{
    KvPlanner planner;
    planner.selectArchitecture(QStringLiteral("Llama-3.1-8B"));
    planner.setContextText(QStringLiteral("32k"));
    // Key width 8 × 128 = 1024: ranks 64, 128 and 256 by default; no mla for a GQA model.
    QStringList modes;
    for (int r = 0; r < planner.table()->rowCount(); ++r)
        modes << planner.table()->item(r, KvPlanner::ModeColumn)->text();
    QCOMPARE(modes,
        (QStringList { "MHA f16 (baseline)", "full", "full+q8", "full+q4", "full+tq3", "latent:64", "latent:64+q8",
            "latent:64+q4", "latent:64+tq3", "latent:128", "latent:128+q8", "latent:128+q4", "latent:128+tq3",
            "latent:256", "latent:256+q8", "latent:256+q4", "latent:256+tq3" }));
    planner.setLatentRanks(QStringLiteral("32"));
    QVERIFY(rowOf(planner.table(), QStringLiteral("latent:32+q8")) > 0);
    QCOMPARE(rowOf(planner.table(), QStringLiteral("latent:64")), -1);
    // An MLA model has mla (with no tq rows), and latent ranks of its own key width.
    planner.selectArchitecture(QStringLiteral("DeepSeek-V2-Lite"));
    QVERIFY(rowOf(planner.table(), QStringLiteral("mla+q4")) > 0);
    QCOMPARE(rowOf(planner.table(), QStringLiteral("mla+tq3")), -1);
}

void TestKvPlanner::loadedModelEntry()
{
    KvPlanner planner;
    const int bundled = planner.architectureBox()->count();
    planner.setLoadedModel(QStringLiteral("tiny.gguf"), tinyGqa());
    planner.setLoadedModel(QStringLiteral("tiny.gguf"), tinyGqa()); // replaces, does not add twice
    QCOMPARE(planner.architectureBox()->count(), bundled + 1);
    QVERIFY(planner.architectureBox()->currentText().startsWith(QStringLiteral("tiny.gguf")));
    planner.setContextTokens(1000);
    QTableWidget *t = planner.table();
    const int full = rowOf(t, QStringLiteral("full"));
    QVERIFY(full > 0);
    QCOMPARE(t->item(full, KvPlanner::PerTokenColumn)->text(), QStringLiteral("128"));
    QCOMPARE(t->item(full, KvPlanner::UsedColumn)->text(), QStringLiteral("125.0 KiB"));
    QCOMPARE(t->item(full, KvPlanner::SavingColumn)->text(), QStringLiteral("2.00×"));
    QCOMPARE(t->item(rowOf(t, QStringLiteral("MHA f16 (baseline)")), KvPlanner::PerTokenColumn)->text(),
        QStringLiteral("256"));
    // Rows of 16 values cannot be quantized in groups of 32: shown, refused, with the reason.
    const int q8 = rowOf(t, QStringLiteral("full+q8"));
    QVERIFY(q8 > 0);
    QCOMPARE(t->item(q8, KvPlanner::PerTokenColumn)->text(), QStringLiteral("cannot apply"));
    QVERIFY2(t->item(q8, KvPlanner::ModeColumn)->toolTip().contains(QStringLiteral("32")),
        qPrintable(t->item(q8, KvPlanner::ModeColumn)->toolTip()));
    QVERIFY(planner.summary().contains(QStringLiteral("cannot apply")));
}

void TestKvPlanner::contextAcceptsSuffixes()
{
    KvPlanner planner;
    planner.selectArchitecture(QStringLiteral("Llama-3.1-8B"));
    planner.setContextText(QStringLiteral("1M"));
    // full: 131072 B/token × 2^20 = 128 GiB.
    QCOMPARE(planner.table()->item(rowOf(planner.table(), QStringLiteral("full")), KvPlanner::UsedColumn)->text(),
        QStringLiteral("128.0 GiB"));
    planner.setContextText(QStringLiteral("lots"));
    QCOMPARE(planner.table()->rowCount(), 0);
    QVERIFY(planner.summary().contains(QStringLiteral("32k")));
}

void TestKvPlanner::reservedIsExplained()
{
    // The case: latent:32+q8 of Llama-3.1-8B at 128K tokens uses 272 MiB and reserves 512 MiB:
    // 64 values = 2 groups × 34 = 68 B a token and layer; a block of 64 tokens holds 4352 B of rows
    // and takes two 4 KiB pages, 8192 B. The note names the worst mode: latent:32+tq3, two rows of
    // an f16 scale and 32 · 3 / 8 = 12 B of codes, 28 B a token and layer; a block holds 1792 B
    // (1.75 KiB) in one 4 KiB page.
    KvPlanner planner;
    planner.selectArchitecture(QStringLiteral("Llama-3.1-8B"));
    planner.setContextText(QStringLiteral("128k"));
    planner.setLatentRanks(QStringLiteral("32"));
    QTableWidget *t = planner.table();
    const int r = rowOf(t, QStringLiteral("latent:32+q8"));
    QCOMPARE(t->item(r, KvPlanner::UsedColumn)->text(), QStringLiteral("272.0 MiB"));
    QCOMPARE(t->item(r, KvPlanner::ReservedColumn)->text(), QStringLiteral("512.0 MiB"));
    QVERIFY2(planner.reservedNote().contains(QStringLiteral("blocks of 64 tokens"))
            && planner.reservedNote().contains(QStringLiteral("a latent:32+tq3 block holds 1.75 KiB of rows per layer "
                                                              "in 4.00 KiB")),
        qPrintable(planner.reservedNote()));
}

QTEST_MAIN(TestKvPlanner)
#include "tst_kv_planner.moc"
