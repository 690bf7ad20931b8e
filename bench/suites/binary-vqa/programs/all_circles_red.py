def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Are all the circles red?
    # If there is no circle the answer is no (there is nothing to be red).
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    if len(circle_patches) == 0:
        return "no"
    for circle_patch in circle_patches:
        color = circle_patch.simple_query("What color is the circle?")
        if color != "red":
            # One circle of another color decides the whole question, so confirm
            # before answering no
            if not circle_patch.verify_property("circle", "red"):
                return "no"
    return "yes"
