// The demo: a fresh database, the bundled sample corpus ingested through the PDF path, three
// real questions answered with citations (extractive, or by a model when one is given), and
// the KV planner table for well-known architectures at 32K, 128K and 1M tokens of context.
#pragma once

#include <QString>
#include <QTextStream>

namespace nw::app {

struct DemoOptions {
    QString databasePath;    // replaced if it exists
    QString sampleDirectory; // where the sample PDFs are written
    QString modelPath;       // "" for extractive answers
    QString kvMode;          // "" for the model's default
    int contextTokens = 0;
};

// The three questions the demo asks.
QStringList demoQuestions();

// Runs the demo; returns an ExitCode. Throws nw::Error when a step cannot be done.
int runDemo(const DemoOptions &options, QTextStream &out, QTextStream &err);

// The KV planner table: every known architecture and KV mode at each context length.
void printKvPlannerTable(QTextStream &out);

} // namespace nw::app
