// One factory per subcommand, each defined in app/commands/<name>.cpp and listed in
// app/commands.cpp.
#pragma once

#include "app/command.h"

namespace nw::app {

Command doctorCommand();
Command ingestCommand();
Command searchCommand();
Command libraryCommand();
Command tokenizeCommand();
Command generateCommand();
Command perplexityCommand();
Command kvCommand();
Command askCommand();
Command sessionsCommand();
Command annotationsCommand();
Command chatCommand();
Command demoCommand();
Command needleCommand();
Command serveCommand();

} // namespace nw::app
