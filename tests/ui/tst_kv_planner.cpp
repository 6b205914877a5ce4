// The KV planner lays out the bytes of every KV mode for an architecture and a context length.
// Expected figures are worked by hand from the models' published config.json.
#include "ui/kv_planner.h"

#include <QComboBox>
#include <QSpinBox>
#include <QTableWidget>
#include <QTest>

using nw::ui::KvPlanner;

class TestKvPlanner : public QObject {
    Q_OBJECT
private slots:
    void figuresPerMode_data();
    void figuresPerMode();
    void loadedModelEntry();
};

void TestKvPlanner::figuresPerMode_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("ctx");
    QTest::addColumn<QStringList>("modes");
    QTest::addColumn<QStringList>("perToken");
    QTest::addColumn<QStringList>("used");
    QTest::addColumn<QStringList>("saving");
    // Llama-3.1-8B: 32 layers, 32 heads, 8 KV heads, head dim 128.
    // full f16: 32 × 8 × (128 + 128) × 2 = 131072 B/token; × 8192 = 1 GiB.
    // MHA f16: 32 × 32 × 256 × 2 = 524288 B/token; × 8192 = 4 GiB; saving 4.
    QTest::addRow("Llama-3.1-8B at 8K") << "Llama-3.1-8B" << 8192
                                        << QStringList{"full", "MHA f16 (baseline)"}
                                        << QStringList{"131,072", "524,288"}
                                        << QStringList{"1.00 GiB", "4.00 GiB"} << QStringList{"×4.00", "×1.00"};
    // DeepSeek-V2-Lite: 27 layers, 16 heads, kv_lora_rank 512, rope 64, nope 128, v 128.
    // full f16: 27 × 16 × (192 + 128) × 2 = 276480 B/token (= the MHA baseline);
    // mla: 27 × (512 + 64) × 2 = 31104 B/token; × 1024 = 30.4 MiB; saving 276480 / 31104 = 8.89.
    QTest::addRow("DeepSeek-V2-Lite at 1K") << "DeepSeek-V2-Lite" << 1024
                                            << QStringList{"full", "mla", "MHA f16 (baseline)"}
                                            << QStringList{"276,480", "31,104", "276,480"}
                                            << QStringList{"270.0 MiB", "30.4 MiB", "270.0 MiB"}
                                            << QStringList{"×1.00", "×8.89", "×1.00"};
}

void TestKvPlanner::figuresPerMode()
{
    QFETCH(QString, arch);
    QFETCH(int, ctx);
    QFETCH(QStringList, modes);
    QFETCH(QStringList, perToken);
    QFETCH(QStringList, used);
    QFETCH(QStringList, saving);
    QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
    KvPlanner planner;
    planner.selectArchitecture(arch);
    planner.setContextTokens(ctx);
    QCOMPARE(planner.architectureBox()->currentText(), arch);
    QTableWidget *t = planner.table();
    QCOMPARE(t->rowCount(), modes.size());
    for (int r = 0; r < t->rowCount(); ++r) {
        QCOMPARE(t->item(r, KvPlanner::ModeColumn)->text(), modes[r]);
        QCOMPARE(t->item(r, KvPlanner::PerTokenColumn)->text(), perToken[r]);
        QCOMPARE(t->item(r, KvPlanner::UsedColumn)->text(), used[r]);
        QCOMPARE(t->item(r, KvPlanner::SavingColumn)->text(), saving[r]);
    }
}

void TestKvPlanner::loadedModelEntry()
{
    QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
    // A tiny GQA model: 2 layers, 4 heads, 2 KV heads, head dim 8.
    // full f16: 2 × 2 × (8 + 8) × 2 = 128 B/token; MHA f16: 2 × 4 × 16 × 2 = 256 B/token.
    nw::HParams hp;
    hp.arch = "llama";
    hp.nLayers = 2;
    hp.nEmbd = 32;
    hp.nHeads = 4;
    hp.nKvHeads = 2;
    hp.headDimK = 8;
    hp.headDimV = 8;
    hp.nRot = 8;
    KvPlanner planner;
    const int bundled = planner.architectureBox()->count();
    planner.setLoadedModel(QStringLiteral("tiny.gguf"), hp);
    planner.setLoadedModel(QStringLiteral("tiny.gguf"), hp); // replaces, does not add twice
    QCOMPARE(planner.architectureBox()->count(), bundled + 1);
    QVERIFY(planner.architectureBox()->currentText().startsWith(QStringLiteral("tiny.gguf")));
    planner.setContextTokens(1000);
    QTableWidget *t = planner.table();
    QCOMPARE(t->rowCount(), 2);
    QCOMPARE(t->item(0, KvPlanner::PerTokenColumn)->text(), QStringLiteral("128"));
    QCOMPARE(t->item(0, KvPlanner::UsedColumn)->text(), QStringLiteral("125.0 KiB"));
    QCOMPARE(t->item(0, KvPlanner::SavingColumn)->text(), QStringLiteral("×2.00"));
    QCOMPARE(t->item(1, KvPlanner::PerTokenColumn)->text(), QStringLiteral("256"));
}

QTEST_MAIN(TestKvPlanner)
#include "tst_kv_planner.moc"
