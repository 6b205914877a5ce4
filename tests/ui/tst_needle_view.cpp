// The Needle Test view (offscreen) with the conformance set's stories260K: the KV modes it offers
// with their bytes, a run that reaches 100 % and draws one heatmap per mode in the PNG's colours,
// hover details taken from results.json, saved cells shown before a resumed run ends, Cancel
// ending a long run within a second while the GUI thread stays free, and the window's menu entry.
// Golden bytes from stories260K's published shape (llama2.c: dim 64, 5 layers, 8 heads, 4 KV
// heads, head size 8): full f16 holds K and V of 4 × 8 values per layer, 5 × 2 × 32 × 2 = 640 B a
// token; latent:R holds R values each for K and V, 5 × 2 × R × 2 = 20·R B; +q8 / +q4 store each
// group of 32 values as ggml's Q8_0 (2-byte scale + 32 bytes = 34 B) / Q4_0 (2 + 16 = 18 B) block.
#include "app/needle_heatmap.h"
#include "scratch_settings.h"
#include "ui/main_window.h"
#include "ui/needle_heatmap_view.h"
#include "ui/needle_view.h"
#include "ui_fixtures.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QHelpEvent>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMouseEvent>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextDocument>
#include <QThread>
#include <QToolTip>

#include <algorithm>

using nw::ui::NeedleHeatmapView;
using nw::ui::NeedleView;

namespace {

QJsonArray savedTrials(const QString &outDir)
{
    QFile file(outDir + QStringLiteral("/results.json"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object().value(QStringLiteral("trials")).toArray();
}

// The small run of the brief: 64 and 96 tokens × depths 0 and 100 × full and the q8 mode this
// model takes (full+q8 needs head dims that are multiples of 32; latent:32 is its full K/V width).
void configureSmallRun(NeedleView &view, const QString &model, const QString &out)
{
    view.setModelPath(model);
    view.lengthsEdit()->setText(QStringLiteral("64,96"));
    view.depthsEdit()->setText(QStringLiteral("0,100"));
    view.setCheckedModes({ QStringLiteral("full"), QStringLiteral("latent:32+q8") });
    view.trialsBox()->setValue(1);
    view.seedBox()->setValue(7);
    view.threadsBox()->setValue(1);
    view.outEdit()->setText(out);
}

int heatmapIndex(const NeedleView &view, const QString &mode)
{
    const QList<NeedleHeatmapView *> maps = view.heatmaps();
    for (qsizetype i = 0; i < maps.size(); ++i)
        if (QString::fromStdString(maps[i]->grid().mode) == mode)
            return static_cast<int>(i);
    return -1;
}

} // namespace

class TestNeedleView : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void offersTheModesTheModelTakes();
    void runDrawsAHeatmapPerMode();
    void savedCellsShowBeforeTheRunEnds();
    void cancelStopsALongRunWithinASecond();
    void windowMenuOpensTheView();
    void badConfigurationSaysWhy();
    void runsTheChosenNeedleSet();
    void compressesBeforeTheQuestionWhenAsked();

private:
    QTemporaryDir m_dir;
    QString m_model;
};

void TestNeedleView::initTestCase()
{
    QVERIFY(m_dir.isValid());
    nw::test::useScratchSettings(m_dir.filePath(QStringLiteral("settings")), QStringLiteral("tst_needle_view"));
    m_model = nw::test::findStories260K();
}

void TestNeedleView::offersTheModesTheModelTakes()
{
    if (m_model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    NeedleView view;
    view.setModelPath(m_model);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const QList<std::pair<QString, qulonglong>> expected { { QStringLiteral("full"), 640 },
        { QStringLiteral("latent:32"), 640 }, { QStringLiteral("latent:16"), 320 }, { QStringLiteral("latent:8"), 160 },
        { QStringLiteral("latent:4"), 80 }, { QStringLiteral("latent:32+q8"), 5 * 2 * 34 },
        { QStringLiteral("latent:32+q4"), 5 * 2 * 18 } };
    QList<std::pair<QString, qulonglong>> offered;
    for (int i = 0; i < view.modeList()->count(); ++i) {
        const QListWidgetItem *item = view.modeList()->item(i);
        offered.push_back(
            { item->data(NeedleView::ModeRole).toString(), item->data(NeedleView::BytesPerTokenRole).toULongLong() });
        QVERIFY(item->flags() & Qt::ItemIsUserCheckable);
    }
    QCOMPARE(offered, expected);
    QCOMPARE(view.checkedModes(), QStringList { QStringLiteral("full") }); // the plain cache by default
}

void TestNeedleView::runDrawsAHeatmapPerMode()
{
    if (m_model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    const QString out = m_dir.filePath(QStringLiteral("small"));
    NeedleView view;
    view.resize(1200, 700);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    configureSmallRun(view, m_model, out);

    QList<std::pair<qint64, qint64>> progress;
    bool offGuiThread = false;
    connect(&view, &NeedleView::progressChanged, this, [&](qint64 done, qint64 total) {
        offGuiThread |= QThread::currentThread() != qApp->thread();
        progress.push_back({ done, total });
    });
    QSignalSpy finished(&view, &NeedleView::runFinished);
    QTest::mouseClick(view.runButton(), Qt::LeftButton);
    QVERIFY(view.isRunning());
    QVERIFY(!view.runButton()->isEnabled());
    QVERIFY(view.cancelButton()->isEnabled());
    QVERIFY(finished.wait(120000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(view.statusLabel()->text()));
    QVERIFY(!view.lastRunCancelled());
    QVERIFY(view.runButton()->isEnabled());

    // 2 modes × 2 lengths × 2 depths × 1 trial, counted on the GUI thread up to 100 %.
    QVERIFY(!offGuiThread);
    QVERIFY(!progress.isEmpty());
    QCOMPARE(progress.last(), (std::pair<qint64, qint64> { 8, 8 }));
    QCOMPARE(view.progressBar()->maximum(), 8);
    QCOMPARE(view.progressBar()->value(), view.progressBar()->maximum());

    QCOMPARE(view.heatmaps().size(), 2);
    for (const QString &mode : { QStringLiteral("full"), QStringLiteral("latent:32+q8") }) {
        const int i = heatmapIndex(view, mode);
        QVERIFY2(i >= 0, qPrintable(mode));
        const NeedleHeatmapView *map = view.heatmaps()[i];
        QCOMPARE(map->grid().lengths, (std::vector<std::int64_t> { 64, 96 }));
        QCOMPARE(map->grid().depths, (std::vector<int> { 0, 100 }));
        QCOMPARE(map->rowCount() * map->columnCount(), 4);
        for (const nw::app::NeedleCell &cell : map->grid().cells)
            QCOMPARE(cell.trials, 1);
    }
    QCOMPARE(view.heatmaps()[heatmapIndex(view, QStringLiteral("full"))]->grid().kvBytesPerToken, std::uint64_t(640));
    QCOMPARE(view.heatmaps()[heatmapIndex(view, QStringLiteral("latent:32+q8"))]->grid().kvBytesPerToken,
        std::uint64_t(340));

    // Below the heatmaps, the Pareto chart: the image the run wrote as pareto.png.
    QVERIFY(view.paretoChart()->isVisible());
    const QImage pareto(out + QStringLiteral("/pareto.png"));
    QVERIFY(!pareto.isNull());
    QCOMPARE(view.paretoChart()->pixmap().toImage().convertToFormat(pareto.format()), pareto);

    // Each cell's colour is the PNG's for the same cell, and the accuracy results.json records.
    const QJsonArray trials = savedTrials(out);
    QCOMPARE(trials.size(), 8);
    for (const QJsonValue &value : trials) {
        const QJsonObject t = value.toObject();
        const QString mode = t.value(QStringLiteral("mode")).toString();
        NeedleHeatmapView *map = view.heatmaps()[heatmapIndex(view, mode)];
        const int row = t.value(QStringLiteral("depth")).toInt() == 0 ? 0 : 1;
        const int column = t.value(QStringLiteral("length")).toInt() == 64 ? 0 : 1;
        const QPoint probe = map->cellRect(row, column).topLeft() + QPoint(4, 4); // clear of the border and the label
        const QColor expected = nw::app::needleAccuracyColor(t.value(QStringLiteral("exact")).toBool() ? 1.0 : 0.0);
        QCOMPARE(map->grab().toImage().pixelColor(probe), expected);
        const QImage png(
            out + QLatin1Char('/') + nw::app::needleHeatmapBaseName(mode.toStdString()) + QStringLiteral(".png"));
        QVERIFY(!png.isNull());
        QCOMPARE(png.pixelColor(probe), expected);
    }

    // Hover: the cell of full at 96 tokens, depth 100 % names itself, the answer results.json
    // holds for it and the cache bytes.
    QJsonObject asked;
    for (const QJsonValue &value : trials) {
        const QJsonObject t = value.toObject();
        if (t.value(QStringLiteral("mode")).toString() == QStringLiteral("full")
            && t.value(QStringLiteral("length")).toInt() == 96 && t.value(QStringLiteral("depth")).toInt() == 100)
            asked = t;
    }
    QVERIFY(!asked.isEmpty());
    NeedleHeatmapView *full = view.heatmaps()[heatmapIndex(view, QStringLiteral("full"))];
    const QPoint centre = full->cellRect(1, 1).center();
    QMouseEvent move(QEvent::MouseMove, QPointF(centre), full->mapToGlobal(QPointF(centre)), Qt::NoButton, Qt::NoButton,
        Qt::NoModifier);
    QCoreApplication::sendEvent(full, &move);
    const QString details = view.detailsLabel()->text();
    QVERIFY2(details.contains(QStringLiteral("96 tokens")), qPrintable(details));
    QVERIFY2(details.contains(QStringLiteral("depth 100 %")), qPrintable(details));
    const QString answer = asked.value(QStringLiteral("answer")).toString().simplified();
    QVERIFY2(
        details.contains(QStringLiteral("\"%1\"").arg(answer)), qPrintable(details + QStringLiteral(" / ") + answer));
    QVERIFY2(details.contains(QString::number(asked.value(QStringLiteral("value")).toInt())), qPrintable(details));
    QVERIFY2(details.contains(QStringLiteral("640 B/token")), qPrintable(details));
    const qint64 cacheTokens = asked.value(QStringLiteral("kv_bytes_total")).toInteger() / 640;
    QVERIFY2(details.contains(QStringLiteral("for %1 tokens").arg(cacheTokens)), qPrintable(details));
    QHelpEvent tip(QEvent::ToolTip, centre, full->mapToGlobal(centre));
    QCoreApplication::sendEvent(full, &tip);
    QCOMPARE(QToolTip::text(), Qt::convertFromPlainText(details)); // the same details, as rich text
    QToolTip::hideText();
}

void TestNeedleView::savedCellsShowBeforeTheRunEnds()
{
    if (m_model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    const QString out = m_dir.filePath(QStringLiteral("small")); // written by runDrawsAHeatmapPerMode
    if (savedTrials(out).size() != 8)
        QSKIP("needs the results of runDrawsAHeatmapPerMode");
    NeedleView view;
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    configureSmallRun(view, m_model, out);
    QSignalSpy progress(&view, &NeedleView::progressChanged);
    QSignalSpy finished(&view, &NeedleView::runFinished);
    QVERIFY(view.run());
    // Before the worker reports anything, the saved cells are on screen.
    QCOMPARE(progress.size(), 0);
    QCOMPARE(view.heatmaps().size(), 2);
    for (const NeedleHeatmapView *map : view.heatmaps())
        for (const nw::app::NeedleCell &cell : map->grid().cells)
            QCOMPARE(cell.trials, 1);
    QVERIFY(finished.wait(120000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(view.statusLabel()->text()));
    QVERIFY2(view.statusLabel()->text().contains(QStringLiteral("0 trials run, 8 already")),
        qPrintable(view.statusLabel()->text()));
    QCOMPARE(view.progressBar()->value(), view.progressBar()->maximum());
    QCOMPARE(savedTrials(out).size(), 8);
}

void TestNeedleView::cancelStopsALongRunWithinASecond()
{
    if (m_model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    const QString out = m_dir.filePath(QStringLiteral("long"));
    NeedleView view;
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setModelPath(m_model);
    // Haystacks short enough that one prefill chunk ends well within the second Cancel has.
    view.lengthsEdit()->setText(QStringLiteral("192,256"));
    view.depthsEdit()->setText(QStringLiteral("0,10,20,30,40,50,60,70,80,90,100"));
    view.setCheckedModes({ QStringLiteral("full") });
    view.trialsBox()->setValue(3);
    view.threadsBox()->setValue(1);
    view.perplexityBox()->setChecked(false);
    view.outEdit()->setText(out);

    // The GUI thread's clock between timer ticks: a trial run on it would show as CPU time.
    nw::test::EventLoopGaps gaps;

    qint64 done = 0, total = 0;
    QStringList statuses;
    connect(&view, &NeedleView::progressChanged, this, [&](qint64 d, qint64 t) {
        done = d;
        total = t;
        statuses << view.statusLabel()->text();
    });
    QSignalSpy finished(&view, &NeedleView::runFinished);
    QVERIFY(view.run());
    gaps.start();
    QTRY_VERIFY_WITH_TIMEOUT(done >= 3, 120000); // a few trials in, with one going
    QCOMPARE(total, qint64(2 * 11 * 3));
    QVERIFY2(statuses.last().contains(QStringLiteral("ETA")), qPrintable(statuses.last()));
    gaps.stop();
    const double maxCpuGap = gaps.maxCpuMs();

    QElapsedTimer stopping;
    stopping.start();
    QTest::mouseClick(view.cancelButton(), Qt::LeftButton);
    QVERIFY(finished.wait(10000));
    const qint64 stopMs = stopping.elapsed();
    qInfo("cancel took %lld ms; while running, the longest timer gap was %lld ms wall, %.1f ms of GUI-thread CPU",
        stopMs, gaps.maxWallMs(), maxCpuGap);
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(view.statusLabel()->text()));
    QVERIFY(view.lastRunCancelled());
    QVERIFY2(stopMs < 1000, qPrintable(QStringLiteral("%1 ms").arg(stopMs)));
    QVERIFY2(
        view.statusLabel()->text().startsWith(QStringLiteral("Cancelled")), qPrintable(view.statusLabel()->text()));
    QVERIFY(done < total);

    // Only whole cells were saved, and the count the view was last told is what the file holds.
    const QJsonArray saved = savedTrials(out);
    QCOMPARE(qint64(saved.size()), done);
    QCOMPARE(saved.size() % 3, 0);
    // The worker took the trials' time: each took far longer than the GUI thread ever worked
    // between two ticks.
    double longestTrialMs = 0.0;
    for (const QJsonValue &t : saved)
        longestTrialMs = std::max(longestTrialMs, 1e3 * t.toObject().value(QStringLiteral("seconds")).toDouble());
    QVERIFY2(maxCpuGap < 100.0, qPrintable(QStringLiteral("%1 ms").arg(maxCpuGap)));
    QVERIFY2(longestTrialMs > 2.0 * maxCpuGap,
        qPrintable(QStringLiteral("trial %1 ms, GUI gap %2 ms").arg(longestTrialMs).arg(maxCpuGap)));
}

void TestNeedleView::windowMenuOpensTheView()
{
    nw::ui::MainWindow window(
        { .databasePath = m_dir.filePath(QStringLiteral("library.sqlite")), .modelPath = m_model });
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    auto *tools = window.menuBar()->findChild<QMenu *>(QStringLiteral("ToolsMenu"));
    QVERIFY(tools);
    QAction *action = tools->findChild<QAction *>(QStringLiteral("NeedleTestAction"));
    QVERIFY(action);
    QVERIFY(tools->actions().contains(action));
    QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_N));
    // The lab is a tab beside the reader, made when first asked for: it never resizes the window.
    QCOMPARE(window.centralTabs()->count(), 1);
    const QSize before = window.size();
    action->trigger();
    QCOMPARE(window.centralTabs()->count(), 2);
    auto *view = window.needleView();
    QVERIFY(view);
    QVERIFY(view->isVisible());
    QCOMPARE(window.size(), before);
    QCOMPARE(view->modelEdit()->text(), m_model); // the window's model
    if (!m_model.isEmpty())
        QVERIFY(view->modeList()->count() > 0);
}

void TestNeedleView::badConfigurationSaysWhy()
{
    NeedleView view;
    QVERIFY(!view.run());
    QVERIFY(view.statusLabel()->text().contains(QStringLiteral("model")));
    view.modelEdit()->setText(m_dir.filePath(QStringLiteral("none.gguf")));
    view.lengthsEdit()->setText(QStringLiteral("8"));
    view.extraModesEdit()->setText(QStringLiteral("full"));
    QVERIFY(!view.run());
    QVERIFY2(view.statusLabel()->text().contains(QStringLiteral("'8'")), qPrintable(view.statusLabel()->text()));
    view.lengthsEdit()->setText(QStringLiteral("64"));
    view.extraModesEdit()->setText(QStringLiteral("latent:x"));
    QVERIFY(!view.run());
    QVERIFY2(view.statusLabel()->text().contains(QStringLiteral("latent:x")), qPrintable(view.statusLabel()->text()));
    QVERIFY(!view.isRunning());
    // A model that cannot be read fails on the worker and says so.
    view.extraModesEdit()->setText(QStringLiteral("full"));
    QSignalSpy finished(&view, &NeedleView::runFinished);
    QVERIFY(view.run());
    QVERIFY(finished.wait(20000));
    QCOMPARE(finished.first().at(0).toBool(), false);
    QVERIFY2(view.statusLabel()->text().contains(QStringLiteral("none.gguf")), qPrintable(view.statusLabel()->text()));
}

void TestNeedleView::runsTheChosenNeedleSet()
{
    // The recall model (in the repository), one cell: the bundled low-overlap set is offered by
    // name, reaches the run (results.json and the view's results name it), and refuses multi-key.
    NeedleView view;
    view.setModelPath(qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf"));
    view.lengthsEdit()->setText(QStringLiteral("96"));
    view.depthsEdit()->setText(QStringLiteral("50"));
    view.setCheckedModes({ QStringLiteral("full") });
    view.threadsBox()->setValue(1);
    view.perplexityBox()->setChecked(false);
    view.outEdit()->setText(m_dir.filePath(QStringLiteral("nolima")));
    QCOMPARE(view.needleSetBox()->currentData().toString(), QStringLiteral("passkey"));
    const int nolima = view.needleSetBox()->findData(QStringLiteral("nolima"));
    QVERIFY(nolima >= 0);
    view.needleSetBox()->setCurrentIndex(nolima);
    view.variantBox()->setCurrentIndex(view.variantBox()->findData(QStringLiteral("multi-key")));
    QVERIFY(!view.run());
    QVERIFY2(view.statusLabel()->text().contains(QStringLiteral("multi-key")), qPrintable(view.statusLabel()->text()));
    view.variantBox()->setCurrentIndex(view.variantBox()->findData(QStringLiteral("single")));
    QSignalSpy finished(&view, &NeedleView::runFinished);
    QVERIFY(view.run());
    QVERIFY(finished.wait(60000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(view.statusLabel()->text()));
    QCOMPARE(view.results().needleSet, std::string("nolima"));
    QCOMPARE(view.results().trials.size(), std::size_t(1));
    QVERIFY(!view.results().trials[0].question.empty());
}

void TestNeedleView::compressesBeforeTheQuestionWhenAsked()
{
    // The check box reaches the run: results.json records it, and a SnapKV mode typed beside the
    // listed ones holds fewer bytes than full either way.
    NeedleView view;
    view.setModelPath(qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf"));
    view.lengthsEdit()->setText(QStringLiteral("256"));
    view.depthsEdit()->setText(QStringLiteral("50"));
    view.setCheckedModes({ QStringLiteral("full"), QStringLiteral("full+snapkv:64") });
    view.threadsBox()->setValue(1);
    view.perplexityBox()->setChecked(false);
    QVERIFY(!view.compressBeforeQuestionBox()->isChecked()); // the default: compression sees the question
    view.compressBeforeQuestionBox()->setChecked(true);
    const QString out = m_dir.filePath(QStringLiteral("before-question"));
    view.outEdit()->setText(out);
    QSignalSpy finished(&view, &NeedleView::runFinished);
    QVERIFY(view.run());
    QVERIFY(finished.wait(60000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(view.statusLabel()->text()));
    QVERIFY(view.results().compressBeforeQuestion);
    QFile file(out + QStringLiteral("/results.json"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(
        QJsonDocument::fromJson(file.readAll()).object().value(QStringLiteral("compress_before_question")).toBool());
    QCOMPARE(view.results().trials.size(), std::size_t(2));
    const auto &trials = view.results().trials;
    const auto full = std::find_if(trials.begin(), trials.end(), [](const auto &t) { return t.mode == "full"; });
    const auto snap = std::find_if(trials.begin(), trials.end(), [](const auto &t) { return t.mode != "full"; });
    QVERIFY(full != trials.end() && snap != trials.end());
    QVERIFY2(snap->kvBytesTotal < full->kvBytesTotal,
        qPrintable(QStringLiteral("%1 vs %2").arg(snap->kvBytesTotal).arg(full->kvBytesTotal)));
}

QTEST_MAIN(TestNeedleView)
#include "tst_needle_view.moc"
